"""Capability ``bulk``: `StoreBulk`, streaming and writing records as they were (§13).

Runs on every target that declares ``bulk``; elsewhere it is skipped and reported as
such at the end of the run (see `contract_tests.plugin.require_capability`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contract_tests.clauses import clause
from contract_tests.harness import Harness, call, new_key_hash, new_tenant, raises
from contract_tests.plugin import RequireCapability
from skillbox_store import (
    APIKey,
    ConflictError,
    Execution,
    File,
    FileFilter,
    Session,
    SkillRecord,
    Store,
)
from skillbox_store.bulk import BULK_TABLES, BulkRecord, StoreBulk
from skillbox_store.capabilities import BULK

_T0 = datetime(2023, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _bulk(require_capability: RequireCapability) -> StoreBulk:
    store = require_capability(BULK)
    assert isinstance(store, StoreBulk)
    return store


def _id() -> str:
    return str(uuid.uuid4())


def _records(tenant: str) -> dict[str, list[BulkRecord]]:
    """A tenant's records as another store would hand them over, oldest first."""
    at = [_T0 + timedelta(seconds=n) for n in range(10)]
    session = Session(
        id=_id(), tenant_id=tenant, external_id="chat", created_at=at[0], last_accessed_at=at[5]
    )
    done = Execution(
        id=_id(),
        skill_name="s",
        skill_version="1",
        tenant_id=tenant,
        status="failed",
        input={"b": 1, "a": [1.5, None]},
        output="x",
        error="boom",
        duration_ms=7,
        created_at=at[1],
        finished_at=at[2],
    )
    running = Execution(
        id=_id(), skill_name="s", skill_version="1", tenant_id=tenant, created_at=at[3]
    )
    root = File(
        id=_id(),
        tenant_id=tenant,
        session_id=session.id,
        execution_id=done.id,
        name="a",
        s3_key="k1",
        created_at=at[4],
        updated_at=at[6],
    )
    child = File(
        id=_id(),
        tenant_id=tenant,
        session_id=session.id,
        execution_id=done.id,
        name="a",
        s3_key="k2",
        version=3,
        parent_id=root.id,
        created_at=at[5],
        updated_at=at[5],
    )
    return {
        "api_keys": [
            APIKey(
                id=_id(),
                key_hash=new_key_hash(),
                tenant_id=tenant,
                name="old",
                created_at=at[0],
                revoked_at=at[1],
            ),
            APIKey(
                id=_id(), key_hash=new_key_hash(), tenant_id=tenant, name="new", created_at=at[2]
            ),
        ],
        "executions": [done, running],
        "files": [root, child],
        "sessions": [session],
        # Upload order, not version order: "1" was uploaded last, so it is the latest.
        "skills": [
            SkillRecord(tenant_id=tenant, name="s", version="2", uploaded_at=at[7]),
            SkillRecord(tenant_id=tenant, name="s", version="1", uploaded_at=at[8]),
        ],
    }


async def _insert_all(store: StoreBulk, tenant: str, records: dict[str, list[BulkRecord]]) -> None:
    for table in BULK_TABLES:
        await call(store.bulk_insert(table, tenant, records[table]))


@clause("capabilities.bulk.insert_as_given")
def test_bulk_insert_keeps_every_field_and_order(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """Inserted records read back as given: ids, times, statuses, chains, upload order."""
    bulk = _bulk(require_capability)
    store: Store = harness.store
    tenant = new_tenant()
    records = _records(tenant)
    harness.run(_insert_all(bulk, tenant, records))
    keys = [k for k in records["api_keys"] if isinstance(k, APIKey)]
    executions = records["executions"]
    assert harness.run(call(store.list_keys(tenant))) == keys[::-1]
    assert harness.run(call(store.validate_key(keys[0].key_hash))) is None
    assert harness.run(call(store.list_executions(tenant))) == executions[::-1]
    files = [f for f in records["files"] if isinstance(f, File)]
    assert harness.run(call(store.list_files(FileFilter(tenant_id=tenant)))) == files[::-1]
    assert harness.run(call(store.list_file_versions(tenant, files[0].id))) == files[::-1]
    session = records["sessions"][0]
    assert isinstance(session, Session)
    assert harness.run(call(store.get_session_by_external_id(tenant, "chat"))) == session
    assert harness.run(call(store.list_session_files(tenant, session.id))) == files[::-1]
    assert harness.run(call(store.resolve_latest_version(tenant, "s"))) == "1"
    # The chain goes on from the inserted head.
    added = harness.run(
        call(store.create_file_version(tenant, files[0].id, size_bytes=1, s3_key="k3"))
    )
    assert (added.version, added.parent_id) == (4, files[1].id)


@clause("capabilities.bulk.stream")
def test_snapshot_streams_each_tenant_in_order(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """A snapshot lists the tenant and streams its records, per table, in stable order."""
    bulk = _bulk(require_capability)
    tenant = new_tenant()
    records = _records(tenant)
    harness.run(_insert_all(bulk, tenant, records))

    async def read() -> tuple[list[str], dict[str, list[BulkRecord]]]:
        found: dict[str, list[BulkRecord]] = {}
        async with bulk.bulk_snapshot() as reader:
            tenants = await call(reader.tenants())
            for table in BULK_TABLES:
                found[table] = []
                async for batch in reader.records(table, [tenant], 1):
                    assert len(batch) == 1
                    found[table] += batch
            everyone = [r async for batch in reader.records("executions") for r in batch]
        assert [r for r in everyone if r.tenant_id == tenant] == records["executions"]
        return tenants, found

    tenants, found = harness.run(read())
    assert tenant in tenants
    assert tenants == sorted(tenants)
    # Skills by name, then upload order; sessions by id: here one name, one session.
    assert found == records


@clause("capabilities.bulk.find")
def test_bulk_find_returns_stored_records_by_key(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """bulk_find gives the stored record with each record's key, None where there is none."""
    bulk = _bulk(require_capability)
    tenant = new_tenant()
    records = _records(tenant)
    harness.run(_insert_all(bulk, tenant, records))
    other = _records(tenant)
    for table in BULK_TABLES:
        asked = [*records[table], *other[table][:1]]
        found = harness.run(call(bulk.bulk_find(table, tenant, asked)))
        if table == "skills":
            # The same name and version in both sets: found.
            assert found == [*records[table], records[table][0]]
        else:
            assert found == [*records[table], None]


@clause("capabilities.bulk.insert_atomic")
def test_bulk_insert_refuses_a_batch_with_a_taken_key(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """A batch holding a record whose key is stored is ConflictError; none of it is written."""
    bulk = _bulk(require_capability)
    store: Store = harness.store
    tenant = new_tenant()
    records = _records(tenant)
    harness.run(_insert_all(bulk, tenant, records))
    fresh = Execution(id=_id(), skill_name="s", skill_version="1", tenant_id=tenant, created_at=_T0)
    harness.run(
        raises(
            ConflictError, bulk.bulk_insert("executions", tenant, [fresh, records["executions"][0]])
        )
    )
    assert harness.run(call(store.list_executions(tenant))) == records["executions"][::-1]


@pytest.mark.parametrize("table", ["nope", ""])
@clause("capabilities.bulk.bad_input")
def test_bulk_refuses_unknown_table_and_foreign_tenant(
    harness: Harness, require_capability: RequireCapability, table: str
) -> None:
    """An unknown table, or a record of another tenant in a batch, is InvalidArgumentError."""
    from skillbox_store import InvalidArgumentError

    bulk = _bulk(require_capability)
    tenant = new_tenant()
    records = _records(tenant)
    harness.run(raises(InvalidArgumentError, bulk.bulk_insert(table, tenant, [])))
    harness.run(
        raises(InvalidArgumentError, bulk.bulk_insert("executions", "other", records["executions"]))
    )
    harness.run(
        raises(InvalidArgumentError, bulk.bulk_find("executions", "other", records["executions"]))
    )
