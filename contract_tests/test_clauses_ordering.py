"""Targeted tests for docs/contract.md, "Ordering and paging".

`test_paging.py` proves ``order.paging.once`` and `test_roundtrip.py` proves
``order.text.code_point``.
"""

from __future__ import annotations

from skillbox_store import Execution, File, FileFilter

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant


@clause("order.newest.no_ties")
def test_records_of_one_transaction_keep_creation_order(harness: Harness) -> None:
    """Keys, executions and files created in one block, interleaved: newest first, no ties."""
    tenant = new_tenant()
    store = harness.store

    async def fill() -> tuple[list[str], list[str], list[str]]:
        keys: list[str] = []
        executions: list[str] = []
        files: list[str] = []
        async with store.transaction() as tx:
            for i in range(6):
                keys.append((await call(tx.create_key(tenant, f"k{i}", new_key_hash()))).id)
                execution = Execution(tenant_id=tenant, skill_name="s", skill_version=str(i))
                executions.append((await call(tx.create_execution(execution))).id)
                file = File(tenant_id=tenant, name=f"f{i}", s3_key="k")
                files.append((await call(tx.create_file(file))).id)
        return keys, executions, files

    keys, executions, files = harness.run(fill())
    assert [k.id for k in harness.run(call(store.list_keys(tenant)))] == keys[::-1]
    listed = harness.run(call(store.list_executions(tenant)))
    assert [e.id for e in listed] == executions[::-1]
    listed_files = harness.run(call(store.list_files(FileFilter(tenant_id=tenant))))
    assert [f.id for f in listed_files] == files[::-1]


@clause("order.newest.stable")
def test_changes_do_not_move_records(harness: Harness) -> None:
    """Revoking the oldest key, finishing the oldest execution, renaming the oldest file."""
    tenant = new_tenant()
    store = harness.store
    keys = [harness.run(call(store.create_key(tenant, f"k{i}", new_key_hash()))) for i in range(3)]
    executions = [
        harness.run(
            call(
                store.create_execution(
                    Execution(tenant_id=tenant, skill_name="s", skill_version=str(i))
                )
            )
        )
        for i in range(3)
    ]
    files = [
        harness.run(call(store.create_file(File(tenant_id=tenant, name=f"f{i}", s3_key="k"))))
        for i in range(3)
    ]
    harness.run(call(store.revoke_key(tenant, keys[0].id)))
    finished = executions[0].model_copy(update={"status": "success"})
    harness.run(call(store.update_execution(finished)))
    harness.run(call(store.update_file(files[0].model_copy(update={"name": "renamed"}))))
    assert [k.id for k in harness.run(call(store.list_keys(tenant)))] == [k.id for k in keys[::-1]]
    assert [e.id for e in harness.run(call(store.list_executions(tenant)))] == [
        e.id for e in executions[::-1]
    ]
    listed = harness.run(call(store.list_files(FileFilter(tenant_id=tenant))))
    assert [f.id for f in listed] == [f.id for f in files[::-1]]
