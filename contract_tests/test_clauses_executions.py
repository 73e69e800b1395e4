"""One targeted test per clause of docs/contract.md, "Executions"."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from skillbox_store import (
    EXECUTION_STATUSES,
    AlreadyFinishedError,
    Execution,
    ExecutionStatus,
    File,
    FileFilter,
    NotFoundError,
)
from skillbox_store.records import utc_now

from .clauses import clause
from .harness import Harness, call, new_tenant, raises

_LONG_AGO = datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC)


def _past(moment: datetime) -> datetime:
    """Wait until the clock has passed ``moment``; return the time then."""
    while (now := utc_now()) <= moment:
        time.sleep(0.001)
    return now


def _execution(tenant: str, **fields: object) -> Execution:
    return Execution.model_validate(
        {"tenant_id": tenant, "skill_name": "skill", "skill_version": "1.0", **fields}
    )


def _full(tenant: str, status: ExecutionStatus) -> Execution:
    """An execution with every field set away from its default."""
    return _execution(
        tenant,
        id=str(uuid.uuid4()),
        skill_name="résumé",
        skill_version="2.1",
        status=status,
        input={"args": [1, 2.5, "x"], "flag": True},
        output=["out", 3],
        logs="line 1\nline 2",
        files_url="s3://bucket/prefix",
        files_list=["a.txt", "b.txt"],
        duration_ms=1234,
        error="boom",
        created_at=_LONG_AGO,
        finished_at=_LONG_AGO + timedelta(seconds=1),
    )


def _create_many(harness: Harness, tenant: str, count: int) -> list[Execution]:
    """Create ``count`` executions in order; return them oldest first."""

    async def create() -> list[Execution]:
        store = harness.store
        return [
            await call(store.create_execution(_execution(tenant, skill_version=str(i))))
            for i in range(count)
        ]

    return harness.run(create())


def _ids(executions: list[Execution]) -> list[str]:
    return [e.id for e in executions]


@clause("executions.create.running")
@pytest.mark.parametrize("status", sorted(EXECUTION_STATUSES - {"running"}))
def test_create_execution_is_running(harness: Harness, status: ExecutionStatus) -> None:
    """Whatever status is passed, the stored status is running."""
    tenant = new_tenant()
    store = harness.store
    created = harness.run(call(store.create_execution(_execution(tenant, status=status))))
    assert created.status == "running"
    assert harness.run(call(store.get_execution(tenant, created.id))).status == "running"


@clause("executions.create.returns")
def test_create_execution_returns_the_stored_execution(harness: Harness) -> None:
    """A new id and created_at now; every other field as given; get agrees."""
    tenant = new_tenant()
    store = harness.store
    given = _full(tenant, "running")
    before = utc_now()
    created = harness.run(call(store.create_execution(given)))
    after = utc_now()
    assert created.id
    assert created.id != given.id
    assert before <= created.created_at <= after, (before, created.created_at, after)
    assert created == given.model_copy(update={"id": created.id, "created_at": created.created_at})
    assert harness.run(call(store.get_execution(tenant, created.id))) == created


@clause("executions.insert.keeps_status")
@pytest.mark.parametrize("status", sorted(EXECUTION_STATUSES))
def test_insert_execution_keeps_status(harness: Harness, status: ExecutionStatus) -> None:
    """The caller's status is stored; id and created_at are the store's, the rest as given."""
    tenant = new_tenant()
    store = harness.store
    given = _full(tenant, status)
    before = utc_now()
    inserted = harness.run(call(store.insert_execution(given)))
    after = utc_now()
    assert inserted.id != given.id
    assert before <= inserted.created_at <= after
    assert inserted == given.model_copy(
        update={"id": inserted.id, "created_at": inserted.created_at}
    )
    assert harness.run(call(store.get_execution(tenant, inserted.id))) == inserted


@clause("executions.get.returns")
def test_get_execution_returns_that_execution(harness: Harness) -> None:
    """Of several executions, get returns the one named."""
    tenant = new_tenant()
    created = _create_many(harness, tenant, 3)
    for execution in created:
        assert harness.run(call(harness.store.get_execution(tenant, execution.id))) == execution


@clause("executions.get.missing")
def test_get_execution_missing_or_foreign_is_not_found(harness: Harness) -> None:
    """Another tenant's execution, an unknown id, a malformed id: NotFoundError."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    (execution,) = _create_many(harness, owner, 1)
    for tenant, execution_id in [
        (other, execution.id),
        (owner, str(uuid.uuid4())),
        (owner, "not-a-uuid"),
    ]:
        harness.run(raises(NotFoundError, store.get_execution(tenant, execution_id)))


@clause("executions.list.newest_first")
def test_list_executions_newest_first_only_the_tenants(harness: Harness) -> None:
    """Reverse creation order; another tenant's executions are not listed."""
    tenant, other = new_tenant(), new_tenant()
    created = _create_many(harness, tenant, 5)
    _create_many(harness, other, 2)
    listed = harness.run(call(harness.store.list_executions(tenant)))
    assert listed == created[::-1]


@clause("executions.list.default")
def test_list_executions_default_limit_is_20(harness: Harness) -> None:
    """Of 21 executions, the default page holds the newest 20."""
    tenant = new_tenant()
    created = _create_many(harness, tenant, 21)
    listed = harness.run(call(harness.store.list_executions(tenant)))
    assert _ids(listed) == _ids(created[::-1][:20])


@clause("executions.list.clamp")
def test_list_executions_limit_clamped_to_100(harness: Harness) -> None:
    """Of 101 executions, a limit of 101 or 1000 gives the newest 100."""
    tenant = new_tenant()
    created = _create_many(harness, tenant, 101)
    newest = _ids(created[::-1][:100])
    for limit in (101, 1000):
        listed = harness.run(call(harness.store.list_executions(tenant, limit=limit)))
        assert _ids(listed) == newest, f"limit={limit}: {len(listed)} returned"
    listed = harness.run(call(harness.store.list_executions(tenant, limit=100, offset=100)))
    assert _ids(listed) == [created[0].id]


@clause("executions.list.limit")
@pytest.mark.parametrize("limit", [1, 2, 7, 9])
def test_list_executions_exact_limit(harness: Harness, limit: int) -> None:
    """A limit below the count returns exactly that many, the newest."""
    tenant = new_tenant()
    created = _create_many(harness, tenant, 10)
    listed = harness.run(call(harness.store.list_executions(tenant, limit=limit)))
    assert _ids(listed) == _ids(created[::-1][:limit])


@clause("executions.list.offset")
def test_list_executions_offset(harness: Harness) -> None:
    """offset skips the newest ones; past the end is []."""
    tenant = new_tenant()
    store = harness.store
    newest_first = _create_many(harness, tenant, 6)[::-1]
    for offset in (0, 1, 3, 5):
        listed = harness.run(call(store.list_executions(tenant, limit=2, offset=offset)))
        assert _ids(listed) == _ids(newest_first[offset : offset + 2]), f"offset={offset}"
    for offset in (6, 50):
        assert harness.run(call(store.list_executions(tenant, offset=offset))) == []


def _outcome(running: Execution) -> Execution:
    """The running execution finished: every writable field changed."""
    return running.model_copy(
        update={
            "status": "failed",
            "output": {"result": [1.5, None, "ok"]},
            "logs": "done\n",
            "files_url": "s3://b/out",
            "files_list": ["out.csv"],
            "duration_ms": 987,
            "error": "exit 1",
            "finished_at": datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        }
    )


@clause("executions.update.writes")
def test_update_execution_writes_the_outcome(harness: Harness) -> None:
    """All eight outcome fields are written and the stored execution returned."""
    tenant = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(tenant))))
    finished = _outcome(running)
    updated = harness.run(call(store.update_execution(finished)))
    assert updated == finished
    assert harness.run(call(store.get_execution(tenant, running.id))) == finished
    # Writing means replacing: empty values and None clear what a progress update set.
    second = harness.run(call(store.create_execution(_execution(tenant))))
    progress = _outcome(second).model_copy(update={"status": "running"})
    harness.run(call(store.update_execution(progress)))
    cleared = second.model_copy(update={"status": "success"})
    assert harness.run(call(store.update_execution(cleared))) == cleared
    assert harness.run(call(store.get_execution(tenant, second.id))) == cleared


@clause("executions.update.keeps")
def test_update_execution_keeps_the_rest(harness: Harness) -> None:
    """skill_name, skill_version, input and created_at are not written."""
    tenant = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(tenant, input={"in": 1}))))
    finished = _outcome(running)
    sneaky = finished.model_copy(
        update={
            "skill_name": "other",
            "skill_version": "9",
            "input": {"in": 2},
            "created_at": _LONG_AGO,
        }
    )
    updated = harness.run(call(store.update_execution(sneaky)))
    assert updated == finished
    assert harness.run(call(store.get_execution(tenant, running.id))) == finished


@clause("executions.update.once")
@pytest.mark.parametrize("how", ["updated", "inserted"])
def test_finished_execution_cannot_be_updated(harness: Harness, how: str) -> None:
    """A finished execution, by update or by insert, refuses updates and stays as it was."""
    tenant = new_tenant()
    store = harness.store
    if how == "updated":
        running = harness.run(call(store.create_execution(_execution(tenant))))
        finished = harness.run(call(store.update_execution(_outcome(running))))
    else:
        finished = harness.run(call(store.insert_execution(_execution(tenant, status="success"))))
    for status in ("running", "success", "timeout"):
        again = finished.model_copy(update={"status": status, "logs": "again", "error": None})
        harness.run(raises(AlreadyFinishedError, store.update_execution(again)))
    assert harness.run(call(store.get_execution(tenant, finished.id))) == finished


@clause("executions.update.running")
def test_update_that_stays_running_can_be_repeated(harness: Harness) -> None:
    """Progress updates keep the execution running and updatable until it finishes."""
    tenant = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(tenant))))
    progress = running.model_copy(update={"logs": "step 1\n", "duration_ms": 10})
    assert harness.run(call(store.update_execution(progress))) == progress
    progress = progress.model_copy(update={"logs": "step 1\nstep 2\n", "duration_ms": 20})
    assert harness.run(call(store.update_execution(progress))) == progress
    finished = _outcome(progress)
    assert harness.run(call(store.update_execution(finished))) == finished


@clause("executions.update.scoped")
def test_update_execution_of_another_tenant_is_not_found(harness: Harness) -> None:
    """Wrong tenant, unknown id or malformed id: NotFoundError; the owner's row unchanged."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(owner))))
    finished = _outcome(running)
    for attempt in [
        finished.model_copy(update={"tenant_id": other}),
        finished.model_copy(update={"id": str(uuid.uuid4())}),
        finished.model_copy(update={"id": "not-a-uuid"}),
    ]:
        harness.run(raises(NotFoundError, store.update_execution(attempt)))
    assert harness.run(call(store.get_execution(owner, running.id))) == running
    harness.run(raises(NotFoundError, store.get_execution(other, running.id)))
    assert harness.run(call(store.list_executions(other))) == []


# -- Sharper tests of the same clauses, written to kill mutants (EQUIVALENT_MUTANTS.md) ----


@clause("executions.create.running")
def test_create_ignores_even_an_unknown_status(harness: Harness) -> None:
    """create_execution stores running whatever the status passed in, known or not."""
    store = harness.store
    tenant = new_tenant()
    for status in ("success", "paused", ""):
        sent = Execution(tenant_id=tenant, skill_name="s", skill_version="1").model_copy(
            update={"status": status}
        )
        stored = harness.run(call(store.create_execution(sent)))
        assert stored.status == "running", status


# -- executions.create.running: a status that only claims to be "running" ------------------


class _Impostor(str):
    """A status whose own comparisons claim it equals "running", whatever its text."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return str.__hash__(self)


@clause("executions.create.running")
def test_create_stores_running_over_a_str_subclass(harness: Harness) -> None:
    """A status of a str subclass comparing equal to "running" is still replaced."""
    store = harness.store
    tenant = new_tenant()
    sent = Execution(tenant_id=tenant, skill_name="s", skill_version="1").model_copy(
        update={"status": _Impostor("success")}
    )
    for execution in (
        harness.run(call(store.create_execution(sent))),
        *harness.run(call(store.list_executions(tenant))),
    ):
        assert (type(execution.status), str.__str__(execution.status)) == (str, "running")


# -- executions.list.clamp, files.list.clamp: any limit above the cap -----------------------


@clause("executions.list.clamp", "files.list.clamp")
def test_a_limit_past_64_bits_is_clamped(harness: Harness) -> None:
    """A limit too big for any integer column is still just taken as the cap."""
    store = harness.store
    tenant = new_tenant()
    run = harness.run
    execution = run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    file = run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))))
    for limit in (2**63, 2**64 + 1):
        assert run(call(store.list_executions(tenant, limit))) == [execution]
        wanted = FileFilter(tenant_id=tenant, limit=limit)
        assert run(call(store.list_files(wanted))) == [file]
