"""Records passed in are never modified, and records handed out share nothing with the store."""

from __future__ import annotations

from datetime import UTC, datetime

from skillbox_store import Execution, File, SkillRecord

from .clauses import clause
from .harness import Harness, call, new_tenant


@clause("records.in.unchanged")
def test_records_passed_in_are_not_modified(harness: Harness) -> None:
    """Every write leaves the caller's record exactly as it was."""
    tenant = new_tenant()
    store = harness.store
    stamp = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)

    async def scenario() -> None:
        execution = Execution(
            tenant_id=tenant,
            skill_name="s",
            skill_version="1",
            status="success",
            input={"a": [1, 2]},
            files_list=["x"],
            created_at=stamp,
        )
        before = execution.model_dump()
        created = await call(store.create_execution(execution))
        await call(store.insert_execution(execution))
        assert execution.model_dump() == before

        update = created.model_copy(
            update={"status": "failed", "output": {"b": 1}, "finished_at": stamp}
        )
        before = update.model_dump()
        await call(store.update_execution(update))
        assert update.model_dump() == before

        file = File(tenant_id=tenant, name="f", s3_key="k", created_at=stamp, updated_at=stamp)
        before = file.model_dump()
        stored = await call(store.create_file(file))
        assert file.model_dump() == before
        rename = stored.model_copy(update={"name": "g", "updated_at": stamp})
        before = rename.model_dump()
        await call(store.update_file(rename))
        assert rename.model_dump() == before

        skill = SkillRecord(tenant_id=tenant, name="s", version="1", uploaded_at=stamp)
        before = skill.model_dump()
        await call(store.upsert_skill(skill))
        assert skill.model_dump() == before

    harness.run(scenario())


@clause("records.out.detached")
def test_changing_a_returned_record_changes_nothing_stored(harness: Harness) -> None:
    """Mutating what the store returned, nested JSON included, leaves the store as it was."""
    tenant = new_tenant()
    store = harness.store

    async def scenario() -> None:
        execution = Execution(
            tenant_id=tenant,
            skill_name="s",
            skill_version="1",
            input={"a": [1, 2]},
            files_list=["x"],
        )
        created = await call(store.create_execution(execution))
        expected = (await call(store.get_execution(tenant, created.id))).model_dump()
        for record in (created, await call(store.get_execution(tenant, created.id))):
            assert isinstance(record.input, dict)
            numbers = record.input["a"]
            assert isinstance(numbers, list)
            numbers.append(3)
            record.files_list.append("y")
            record.logs = "changed"
        assert (await call(store.get_execution(tenant, created.id))).model_dump() == expected
        listed = await call(store.list_executions(tenant))
        assert [e.model_dump() for e in listed] == [expected]

    harness.run(scenario())
