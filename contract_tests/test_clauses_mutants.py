"""Sharper clause tests, written to kill the mutants the rest of the suite let live.

``nox -s mutation`` mutates the memory backend and `skillbox_store.validation` and runs
the suite on ``memory://``; each test here kills mutants that survived it, and runs on
every target like any clause test. Mutants that cannot change what a caller observes
are listed, with the reason, in ``contract_tests/EQUIVALENT_MUTANTS.md``.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import typing
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from contract_tests.clauses import clause
from contract_tests.harness import Harness, call, new_key_hash, new_tenant, raises
from contract_tests.plugin import RequireCapability
from skillbox_store import (
    APIKey,
    ConflictError,
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    Session,
    SkillRecord,
    Store,
)
from skillbox_store.bulk import BULK_TABLES, BulkRecord, StoreBulk
from skillbox_store.capabilities import BULK
from skillbox_store.limits import JSON_INT_MAX, JSON_INT_MIN, JSON_MAX_DEPTH, JSON_MAX_VALUES


def _names(field: str, message: str) -> bool:
    """Whether ``message`` names ``field`` as a word of its own, spelled exactly."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(field)}(?![A-Za-z0-9_])", message) is not None


# -- errors.invalid.empty: every tenant-scoped method names `tenant_id` ------------------


def _argument(name: str, annotation: Any, tenant: str) -> Any:
    """A well-formed argument for parameter ``name``, in ``tenant`` (which may be "")."""
    if name == "tenant_id":
        return tenant
    if name == "key_hash":
        return hashlib.sha256(b"mutants").hexdigest()
    if name.endswith("_id") and name != "external_id":
        return str(uuid.uuid4())
    records: dict[Any, Any] = {
        Execution: Execution(tenant_id=tenant, skill_name="s", skill_version="1"),
        File: File(tenant_id=tenant, name="f", s3_key="k"),
        FileFilter: FileFilter(tenant_id="x").model_copy(update={"tenant_id": tenant}),
        SkillRecord: SkillRecord(tenant_id=tenant, name="s", version="1"),
        str: "x",
        int: 1,
        datetime: datetime.now(UTC),
    }
    for candidate in (annotation, *typing.get_args(annotation)):
        if candidate in records:
            value = records[candidate]
            if hasattr(value, "model_copy") and hasattr(value, "tenant_id"):
                # model_copy skips validation: the store itself must refuse "".
                return value.model_copy(update={"tenant_id": tenant})
            return value
    raise AssertionError(f"no sample argument for {name}: {annotation!r}")


def _tenant_scoped_calls(tenant: str) -> list[tuple[str, typing.Callable[[Store], Any]]]:
    """Every Store method that takes a tenant, directly or in its record, with ``tenant``."""
    calls: list[tuple[str, typing.Callable[[Store], Any]]] = []
    for name, method in inspect.getmembers(Store, inspect.isfunction):
        if name.startswith("_") or name in ("get_key_by_hash", "validate_key"):
            continue
        hints = typing.get_type_hints(method)
        parameters = list(inspect.signature(method).parameters.values())[1:]
        scoped = any(
            p.name == "tenant_id"
            or any(
                t in (Execution, File, FileFilter, SkillRecord)
                for t in (hints.get(p.name), *typing.get_args(hints.get(p.name)))
            )
            for p in parameters
        )
        if not scoped:
            continue
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for p in parameters:
            if p.default is not inspect.Parameter.empty:
                continue
            value = _argument(p.name, hints[p.name], tenant)
            if p.kind is inspect.Parameter.KEYWORD_ONLY:
                kwargs[p.name] = value
            else:
                args.append(value)

        def make(store: Store, name: str = name, args: Any = args, kwargs: Any = kwargs) -> Any:
            return getattr(store, name)(*args, **kwargs)

        calls.append((name, make))
    return calls


@clause("errors.invalid.empty")
def test_empty_tenant_is_named_by_every_method(harness: Harness) -> None:
    """An empty tenant_id is InvalidArgumentError naming `tenant_id`, in every method."""
    calls = _tenant_scoped_calls("")
    assert len(calls) >= 20, [name for name, _ in calls]
    for name, make in calls:
        error = harness.run(raises(InvalidArgumentError, make(harness.store)))
        assert _names("tenant_id", str(error)), f"{name}: tenant_id not named in {error}"


@clause("errors.invalid.empty")
def test_empty_skill_name_or_version_is_named(harness: Harness) -> None:
    """An empty skill name or version is refused by name in every skill lookup."""
    store = harness.store
    tenant = new_tenant()
    cases = [
        ("name", store.get_skill(tenant, "", "1")),
        ("version", store.get_skill(tenant, "s", "")),
        ("name", store.delete_skill(tenant, "", "1")),
        ("version", store.delete_skill(tenant, "s", "")),
        ("name", store.resolve_latest_version(tenant, "")),
    ]
    for field, awaitable in cases:
        error = harness.run(raises(InvalidArgumentError, awaitable))
        assert _names(field, str(error)), f"{field} not named in {error}"


# -- files.update.chain_order: the boundaries ---------------------------------------------


@clause("files.update.chain_order")
def test_update_to_a_neighbours_version_conflicts(harness: Harness) -> None:
    """A version equal to the parent's or to a child's is refused, and nothing written."""
    store = harness.store
    tenant = new_tenant()
    head = harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))))
    middle = harness.run(
        call(
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k2", parent_id=head.id, version=2)
            )
        )
    )
    harness.run(
        call(
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k3", parent_id=middle.id, version=3)
            )
        )
    )
    for version in (1, 3):
        harness.run(
            raises(ConflictError, store.update_file(middle.model_copy(update={"version": version})))
        )
        assert harness.run(call(store.get_file(tenant, middle.id))).version == 2
    # Strictly between the neighbours is not possible here; the unchanged version is.
    harness.run(call(store.update_file(middle.model_copy(update={"name": "g"}))))


# -- files.list.filters: both filters, one of them matching nothing ------------------------


@clause("files.list.filters")
def test_both_filters_with_an_empty_group(harness: Harness) -> None:
    """Filtering by a session and an execution of which one has no file gives []."""
    store = harness.store
    tenant = new_tenant()
    execution = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    session = str(uuid.uuid4())
    harness.run(
        call(
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k", execution_id=execution.id)
            )
        )
    )
    harness.run(
        call(store.create_file(File(tenant_id=tenant, name="g", s3_key="k", session_id=session)))
    )
    unused_execution = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    for session_id, execution_id in [
        (str(uuid.uuid4()), execution.id),
        (session, unused_execution.id),
    ]:
        wanted = FileFilter(tenant_id=tenant, session_id=session_id, execution_id=execution_id)
        assert harness.run(call(store.list_files(wanted))) == [], (session_id, execution_id)


# -- files.delete.removes: past the memory backend's ordering blocks -----------------------

_MANY = 600  # more than one of the memory backend's 512-row ordering blocks


@clause("files.delete.removes", "order.paging.once")
def test_delete_among_many_files(harness: Harness) -> None:
    """Deleting files at both ends and in the middle of a long listing removes just them."""
    store = harness.store
    tenant = new_tenant()

    async def create_many() -> list[str]:
        ids = []
        # One block: a SQL backend commits once instead of 600 times.
        async with store.transaction() as tx:
            for n in range(_MANY):
                file = await call(tx.create_file(File(tenant_id=tenant, name=f"f{n}", s3_key="k")))
                ids.append(file.id)
        return ids

    async def every_file() -> list[str]:
        listed: list[str] = []
        while True:
            page = await call(
                store.list_files(FileFilter(tenant_id=tenant, limit=200, offset=len(listed)))
            )
            listed += [f.id for f in page]
            if len(page) < 200:
                return listed

    ids = harness.run(create_many())
    doomed = [ids[0], ids[1], ids[300], ids[520], ids[_MANY - 1]]
    for file_id in doomed:
        harness.run(call(store.delete_file(tenant, file_id)))
    kept = [file_id for file_id in reversed(ids) if file_id not in doomed]
    assert harness.run(every_file()) == kept


# -- errors.invalid.nul: the refused field is named, exactly, in every write ---------------


def _nul_cases(tenant: str, execution: Execution, file: File) -> list[tuple[str, Any]]:
    """(field, a call passing NUL in that field) for every text field a write takes."""
    nul = "a\x00b"

    def run_with(record: Any, **changes: Any) -> Any:
        return record.model_copy(update=changes)

    new_execution = Execution(tenant_id=tenant, skill_name="s", skill_version="1")
    new_file = File(tenant_id=tenant, name="f", s3_key="k")
    skill = SkillRecord(tenant_id=tenant, name="s", version="1")
    cases: list[tuple[str, Any]] = [
        ("name", lambda s: s.create_key(tenant, nul, hashlib.sha256(b"n").hexdigest())),
        ("external_id", lambda s: s.get_or_create_session(tenant, nul)),
    ]
    for field in ("skill_name", "skill_version", "logs", "files_url", "error"):
        cases.append(
            (field, lambda s, f=field: s.create_execution(run_with(new_execution, **{f: nul})))
        )
        cases.append(
            (field, lambda s, f=field: s.insert_execution(run_with(new_execution, **{f: nul})))
        )
    for field in ("logs", "files_url", "error"):
        cases.append(
            (field, lambda s, f=field: s.update_execution(run_with(execution, **{f: nul})))
        )
    for field in ("name", "content_type", "s3_key"):
        cases.append((field, lambda s, f=field: s.create_file(run_with(new_file, **{f: nul}))))
        cases.append((field, lambda s, f=field: s.update_file(run_with(file, **{f: nul}))))
    cases += [
        (
            "name",
            lambda s: s.create_file_version(tenant, file.id, name=nul, size_bytes=1, s3_key="k"),
        ),
        (
            "content_type",
            lambda s: s.create_file_version(
                tenant, file.id, content_type=nul, size_bytes=1, s3_key="k"
            ),
        ),
        ("s3_key", lambda s: s.create_file_version(tenant, file.id, size_bytes=1, s3_key=nul)),
    ]
    for field in ("name", "version", "description", "lang"):
        cases.append((field, lambda s, f=field: s.upsert_skill(run_with(skill, **{f: nul}))))
    return cases


@clause("errors.invalid.nul")
def test_nul_is_refused_naming_the_field(harness: Harness) -> None:
    """A NUL in any text field of any write is InvalidArgumentError naming that field."""
    store = harness.store
    tenant = new_tenant()
    execution = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    file = harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))))
    wrong = []
    for field, make in _nul_cases(tenant, execution, file):
        error = harness.run(raises(InvalidArgumentError, make(store)))
        if not _names(field, str(error)):
            wrong.append(f"{field}: {error}")
    assert wrong == []


# -- files.version.given: a given content type wins over the head's -----------------------


@clause("files.version.given")
def test_new_version_takes_the_given_name_and_content_type(harness: Harness) -> None:
    """Given name and content_type are the new version's, not the head's."""
    store = harness.store
    tenant = new_tenant()
    head = harness.run(
        call(
            store.create_file(
                File(tenant_id=tenant, name="a.txt", content_type="text/plain", s3_key="k")
            )
        )
    )
    new = harness.run(
        call(
            store.create_file_version(
                tenant, head.id, name="b.csv", content_type="text/csv", size_bytes=3, s3_key="k2"
            )
        )
    )
    assert (new.name, new.content_type) == ("b.csv", "text/csv")
    assert harness.run(call(store.get_file(tenant, new.id))) == new


# -- errors.invalid.values: the refused number, time or type is named ----------------------


@clause("errors.invalid.values", "prune.executions.bad_input")
def test_refused_values_name_their_field(harness: Harness) -> None:
    """Negative sizes, a naive cut-off and a non-string hash are refused by field name."""
    store = harness.store
    tenant = new_tenant()
    head = harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))))
    naive = datetime(2020, 1, 1)  # naive on purpose
    cases: list[tuple[str, Any]] = [
        (
            "size_bytes",
            store.create_file_version(tenant, head.id, size_bytes=-1, s3_key="k"),
        ),
        (
            "size_bytes",
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k").model_copy(update={"size_bytes": -1})
            ),
        ),
        ("finished_before", store.prune_executions(tenant, naive)),
        ("key_hash", store.create_key(tenant, "n", 12345)),  # type: ignore[arg-type]
    ]
    for field, awaitable in cases:
        error = harness.run(raises(InvalidArgumentError, awaitable))
        assert _names(field, str(error)), f"{field} not named in {error}"


# -- purge.tenant.removes_all: a purged tenant starts again from nothing -------------------


@clause("purge.tenant.removes_all")
def test_purged_tenant_can_be_used_again(harness: Harness) -> None:
    """After purge_tenant, the same tenant id writes and lists records as a new tenant."""
    store = harness.store
    tenant = new_tenant()

    async def one_of_each(label: str) -> None:
        await call(store.create_key(tenant, label, hashlib.sha256(label.encode()).hexdigest()))
        execution = await call(
            store.create_execution(Execution(tenant_id=tenant, skill_name=label, skill_version="1"))
        )
        await call(
            store.create_file(
                File(tenant_id=tenant, name=label, s3_key="k", execution_id=execution.id)
            )
        )
        await call(store.get_or_create_session(tenant, label))
        await call(store.upsert_skill(SkillRecord(tenant_id=tenant, name=label, version="1")))

    async def names() -> list[list[str]]:
        return [
            [k.name for k in await call(store.list_keys(tenant))],
            [e.skill_name for e in await call(store.list_executions(tenant))],
            [f.name for f in await call(store.list_files(FileFilter(tenant_id=tenant)))],
            [s.name for s in await call(store.list_skills(tenant))],
        ]

    harness.run(one_of_each(f"old-{tenant}"))
    harness.run(call(store.purge_tenant(tenant)))
    assert harness.run(names()) == [[], [], [], []]
    harness.run(one_of_each(f"new-{tenant}"))
    assert harness.run(names()) == [[f"new-{tenant}"]] * 4
    session = harness.run(call(store.get_session_by_external_id(tenant, f"new-{tenant}")))
    assert session.external_id == f"new-{tenant}"


@clause("errors.invalid.values", "errors.invalid.nul", "errors.invalid.page")
def test_every_refused_execution_or_page_field_is_named(harness: Harness) -> None:
    """Bad JSON, times, counts, statuses, list items and page bounds name their field."""
    store = harness.store
    tenant = new_tenant()
    running = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    base = Execution(tenant_id=tenant, skill_name="s", skill_version="1")
    naive = datetime(2020, 1, 1)  # naive on purpose
    bad: list[tuple[str, dict[str, Any]]] = [
        ("input", {"input": {"x": float("nan")}}),
        ("output", {"output": [float("inf")]}),
        ("finished_at", {"finished_at": naive}),
        ("duration_ms", {"duration_ms": -1}),
        ("status", {"status": "paused"}),
        ("files_list", {"files_list": ["ok", "a\x00b"]}),
    ]
    cases: list[tuple[str, Any]] = []
    for field, changes in bad:
        cases.append((field, store.insert_execution(base.model_copy(update=changes))))
        if field != "input":
            cases.append((field, store.update_execution(running.model_copy(update=changes))))
    cases += [
        (
            "version",
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k").model_copy(update={"version": 0})
            ),
        ),
        ("limit", store.list_executions(tenant, 0)),
        ("offset", store.list_executions(tenant, 10, -1)),
        ("limit", store.list_files(FileFilter(tenant_id=tenant).model_copy(update={"limit": 0}))),
        (
            "offset",
            store.list_files(FileFilter(tenant_id=tenant).model_copy(update={"offset": -1})),
        ),
    ]
    wrong = []
    for field, awaitable in cases:
        error = harness.run(raises(InvalidArgumentError, awaitable))
        if not _names(field, str(error)):
            wrong.append(f"{field}: {error}")
    assert wrong == []


@clause("errors.invalid.values")
def test_wrong_types_are_named_and_maxima_accepted(harness: Harness) -> None:
    """A text or number of the wrong type names its field; the largest values are kept."""
    store = harness.store
    tenant = new_tenant()
    file = File(tenant_id=tenant, name="f", s3_key="k")
    cases: list[tuple[str, Any]] = [
        ("size_bytes", store.create_file(file.model_copy(update={"size_bytes": "12"}))),
        ("name", store.create_file(file.model_copy(update={"name": 12}))),
        ("size_bytes", store.create_file(file.model_copy(update={"size_bytes": 2**63}))),
    ]
    for field, awaitable in cases:
        error = harness.run(raises(InvalidArgumentError, awaitable))
        assert _names(field, str(error)), f"{field} not named in {error}"
    biggest = harness.run(
        call(
            store.create_file(
                file.model_copy(update={"size_bytes": 2**63 - 1, "version": 2**31 - 1})
            )
        )
    )
    assert (biggest.size_bytes, biggest.version) == (2**63 - 1, 2**31 - 1)
    assert harness.run(call(store.get_file(tenant, biggest.id))) == biggest


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


@clause("records.times.instant")
def test_update_stores_finished_at_in_utc(harness: Harness) -> None:
    """A finished_at in another offset, given to update_execution, reads back in UTC."""
    store = harness.store
    tenant = new_tenant()
    running = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    five_east = timezone(timedelta(hours=5))
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=five_east)
    done = running.model_copy(update={"status": "success", "finished_at": moment})
    for execution in (
        harness.run(call(store.update_execution(done))),
        harness.run(call(store.get_execution(tenant, running.id))),
    ):
        assert execution.finished_at == moment
        assert execution.finished_at is not None
        assert execution.finished_at.utcoffset() == timedelta(0)


@clause("errors.id.malformed", "paging.after.unknown")
def test_ids_of_the_wrong_type_or_unknown_after_are_not_found(harness: Harness) -> None:
    """An id that is not even a string is NotFoundError; so is `after` in an empty tenant."""
    store = harness.store
    tenant = new_tenant()
    harness.run(raises(NotFoundError, store.get_file(tenant, 12345)))  # type: ignore[arg-type]
    harness.run(raises(NotFoundError, store.get_execution(tenant, None)))  # type: ignore[arg-type]
    after = str(uuid.uuid4())
    harness.run(raises(NotFoundError, store.list_files(FileFilter(tenant_id=tenant, after=after))))


# -- records.ids.case_insensitive: an id in upper case names the same record ---------------


@clause("records.ids.case_insensitive")
def test_upper_case_ids_name_the_same_record(harness: Harness) -> None:
    """Every lookup, change, reference, cursor and filter takes an id's upper-case spelling."""
    store = harness.store
    tenant = new_tenant()
    run = harness.run
    key = run(call(store.create_key(tenant, "k", new_key_hash())))
    revoked = run(call(store.revoke_key(tenant, key.id.upper())))
    assert (revoked.id, revoked.revoked_at is not None) == (key.id, True)

    older = run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    execution = run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    assert run(call(store.get_execution(tenant, execution.id.upper()))) == execution
    page = run(call(store.list_executions(tenant, 10, after=execution.id.upper())))
    assert [e.id for e in page] == [older.id]
    finished = run(
        call(
            store.update_execution(
                execution.model_copy(update={"id": execution.id.upper(), "status": "success"})
            )
        )
    )
    assert (finished.id, finished.status) == (execution.id, "success")
    assert run(call(store.get_execution(tenant, execution.id))).status == "success"

    session = run(call(store.get_or_create_session(tenant, "ext")))
    assert run(call(store.get_session(tenant, session.id.upper()))) == session
    assert run(call(store.touch_session(tenant, session.id.upper()))).id == session.id

    head = run(
        call(
            store.create_file(
                File(
                    tenant_id=tenant,
                    name="f",
                    s3_key="k",
                    session_id=session.id.upper(),
                    execution_id=execution.id.upper(),
                )
            )
        )
    )
    assert (head.session_id, head.execution_id) == (session.id, execution.id)
    assert run(call(store.get_file(tenant, head.id.upper()))) == head
    second = run(
        call(
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k2", parent_id=head.id.upper(), version=2)
            )
        )
    )
    assert second.parent_id == head.id
    third = run(
        call(store.create_file_version(tenant, second.id.upper(), size_bytes=1, s3_key="k3"))
    )
    assert (third.parent_id, third.version) == (second.id, 3)
    chain = [head.id, second.id, third.id]
    assert sorted(
        f.id for f in run(call(store.list_file_versions(tenant, head.id.upper())))
    ) == sorted(chain)

    renamed = run(
        call(store.update_file(head.model_copy(update={"id": head.id.upper(), "name": "g"})))
    )
    assert (renamed.id, renamed.name) == (head.id, "g")
    assert run(call(store.get_file(tenant, head.id))).name == "g"

    for wanted in (
        FileFilter(tenant_id=tenant, session_id=session.id.upper()),
        FileFilter(tenant_id=tenant, execution_id=execution.id.upper()),
        FileFilter(
            tenant_id=tenant, session_id=session.id.upper(), execution_id=execution.id.upper()
        ),
    ):
        assert [f.id for f in run(call(store.list_files(wanted)))] == [head.id], wanted
    after = FileFilter(tenant_id=tenant, after=third.id.upper())
    assert [f.id for f in run(call(store.list_files(after)))] == [second.id, head.id]
    assert [f.id for f in run(call(store.list_session_files(tenant, session.id.upper())))] == [
        head.id
    ]

    run(call(store.delete_file(tenant, third.id.upper())))
    run(raises(NotFoundError, store.get_file(tenant, third.id)))


# -- paging.after.filters: both filters and a cursor, whichever group is walked ------------


@clause("paging.after.filters", "files.list.filters")
def test_after_with_both_filters_continues_the_filtered_listing(harness: Harness) -> None:
    """A page after a file, filtered by a session and an execution, continues that listing.

    Run twice: once with the session having fewer files than the execution, once the other
    way round, so a backend that walks the smaller group is tested on both.
    """
    store = harness.store
    tenant = new_tenant()
    run = harness.run
    for extra in ("execution", "session"):
        execution = run(
            call(
                store.create_execution(
                    Execution(tenant_id=tenant, skill_name="s", skill_version="1")
                )
            )
        )
        session = str(uuid.uuid4())
        both = [
            run(
                call(
                    store.create_file(
                        File(
                            tenant_id=tenant,
                            name=f"f{n}",
                            s3_key="k",
                            session_id=session,
                            execution_id=execution.id,
                        )
                    )
                )
            )
            for n in range(3)
        ]
        # One more file in just one of the two groups makes the other the smaller one.
        lone = File(tenant_id=tenant, name="x", s3_key="k")
        if extra == "execution":
            lone = lone.model_copy(update={"execution_id": execution.id})
        else:
            lone = lone.model_copy(update={"session_id": session})
        run(call(store.create_file(lone)))
        newest_first = [f.id for f in reversed(both)]
        wanted = FileFilter(tenant_id=tenant, session_id=session, execution_id=execution.id)
        assert [f.id for f in run(call(store.list_files(wanted)))] == newest_first, extra
        for at, cursor in enumerate(newest_first):
            page = run(call(store.list_files(wanted.model_copy(update={"after": cursor}))))
            assert [f.id for f in page] == newest_first[at + 1 :], (extra, at)
        one = wanted.model_copy(update={"after": newest_first[0], "limit": 1})
        assert [f.id for f in run(call(store.list_files(one)))] == [newest_first[1]], extra


# -- files.list.empty_filter: "" is no filter ----------------------------------------------


@clause("files.list.empty_filter")
def test_an_empty_filter_id_filters_nothing(harness: Harness) -> None:
    """session_id or execution_id of "" lists what None lists."""
    store = harness.store
    tenant = new_tenant()
    run = harness.run
    session = str(uuid.uuid4())
    files = [
        run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k")))),
        run(
            call(
                store.create_file(File(tenant_id=tenant, name="g", s3_key="k", session_id=session))
            )
        ),
    ]
    everything = [f.id for f in reversed(files)]
    for changes in (
        {"session_id": ""},
        {"execution_id": ""},
        {"session_id": "", "execution_id": ""},
    ):
        wanted = FileFilter(tenant_id=tenant).model_copy(update=changes)
        assert [f.id for f in run(call(store.list_files(wanted)))] == everything, changes
    wanted = FileFilter(tenant_id=tenant).model_copy(
        update={"session_id": session, "execution_id": ""}
    )
    assert [f.id for f in run(call(store.list_files(wanted)))] == [files[1].id]


# -- records.out.detached: output, from every method that returns an execution -------------


@clause("records.out.detached")
def test_changing_a_returned_output_changes_nothing_stored(harness: Harness) -> None:
    """Nested `output` handed out by update, insert, get and list is the caller's own copy."""
    store = harness.store
    tenant = new_tenant()
    run = harness.run

    def spoil(execution: Execution) -> None:
        assert isinstance(execution.output, dict)
        numbers = execution.output["b"]
        assert isinstance(numbers, list)
        numbers.append(99)
        execution.output["c"] = "spoilt"

    running = run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    done = running.model_copy(update={"status": "success", "output": {"b": [1]}})
    spoil(run(call(store.update_execution(done))))
    inserted = Execution(
        tenant_id=tenant, skill_name="s", skill_version="1", status="failed", output={"b": [2]}
    )
    spoil(run(call(store.insert_execution(inserted))))
    expected = {e.id: e.output for e in run(call(store.list_executions(tenant)))}
    assert sorted(expected.values(), key=str) == [{"b": [1]}, {"b": [2]}]
    for execution_id in expected:
        spoil(run(call(store.get_execution(tenant, execution_id))))
    for execution in run(call(store.list_executions(tenant))):
        spoil(execution)
    for execution_id, output in expected.items():
        assert run(call(store.get_execution(tenant, execution_id))).output == output


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


# -- input.json.*: the same verdicts for a value alone, small, nested and large -------------

# More values than a small value holds and deeper than it nests: a backend may check
# those two kinds by different code, and the contract holds for both.
_PAD_VALUES = 300
_PAD_DEPTH = 12


def _json_sizes(inner: Any) -> list[tuple[str, Any]]:
    """``inner`` alone, in a small list and object, among many values, and deeply nested."""
    deep: Any = [inner]
    for _ in range(_PAD_DEPTH):
        deep = [deep]
    many = {f"k{n}": n for n in range(_PAD_VALUES)}
    return [
        ("alone", inner),
        ("in a list", [1, inner]),
        ("after a list", [[0], inner]),
        # 200 + 60 values: more than a small value holds, but only once inside the list.
        ("past the budget", [[0] * 200, *([0] * 60), inner]),
        ("in an object", {"a": inner}),
        ("after many", [*range(_PAD_VALUES), inner]),
        ("in a big object", {**many, "x": inner}),
        ("deep", deep),
    ]


def _json_verdicts(harness: Harness, accepted: list[Any], refused: list[Any]) -> None:
    """Each value of ``accepted`` reads back equal; each of ``refused`` names its field."""
    store = harness.store
    tenant = new_tenant()
    run = harness.run
    base = Execution(tenant_id=tenant, skill_name="s", skill_version="1")
    running = run(call(store.create_execution(base)))
    wrong: list[str] = []
    for value in accepted:
        for label, sized in _json_sizes(value):
            stored = run(call(store.create_execution(base.model_copy(update={"input": sized}))))
            if run(call(store.get_execution(tenant, stored.id))).input != sized:
                wrong.append(f"input {label} {value!r}: read back differently")
    for value in refused:
        for label, sized in _json_sizes(value):
            for field, awaitable in (
                ("input", store.create_execution(base.model_copy(update={"input": sized}))),
                ("output", store.update_execution(running.model_copy(update={"output": sized}))),
            ):
                error = run(raises(InvalidArgumentError, awaitable))
                if not _names(field, str(error)):
                    wrong.append(f"{field} {label} {value!r}: {error}")
    assert wrong == []


@clause("input.json.integers", "records.json.values", "records.text.exact")
def test_json_bounds_are_accepted_at_every_size(harness: Harness) -> None:
    """The extreme integers, empty and non-ASCII text and keys are kept, in any value."""
    accepted: list[Any] = [
        JSON_INT_MIN,
        JSON_INT_MAX,
        [JSON_INT_MIN, JSON_INT_MAX],
        "",
        {"": ""},
        {"é": "ü"},
        -1.5,
        [None, True, False],
        {"n": None},
    ]
    _json_verdicts(harness, accepted, [])


@clause("input.json.integers", "errors.invalid.values", "errors.invalid.nul")
def test_bad_json_is_refused_by_name_at_every_size(harness: Harness) -> None:
    """Out-of-range ints, NaN, NUL, bad keys and non-JSON objects name the field, any size."""
    refused: list[Any] = [
        JSON_INT_MAX + 1,
        JSON_INT_MIN - 1,
        float("nan"),
        float("-inf"),
        "a\x00b",
        {"a\x00b": 1},
        "lone \ud800",
        {"lone \ud800": 1},
        {1: "x"},
        {"ok": 1, None: 2},
        object(),
        b"bytes",
    ]
    _json_verdicts(harness, [], refused)


@clause("input.json.size")
def test_a_shallow_shared_value_over_the_cap_is_refused(harness: Harness) -> None:
    """Millions of values made of shared lists or objects are refused at once."""
    store = harness.store
    tenant = new_tenant()
    rows: list[list[Any]] = [[0] * 200, [[]] * 200]
    # 8,000,000 values three lists deep; 2**61 values in objects sixty deep.
    values: list[Any] = [[[row] * 200] * 200 for row in rows]
    shared: Any = {"k": 0}
    for _ in range(60):
        shared = {"a": shared, "b": shared}
    values.append(shared)
    for huge in values:
        started = datetime.now(UTC)
        harness.run(
            raises(
                InvalidArgumentError,
                store.create_execution(
                    Execution(tenant_id=tenant, skill_name="s", skill_version="1").model_copy(
                        update={"input": huge}
                    )
                ),
            )
        )
        assert datetime.now(UTC) - started < timedelta(seconds=30)


@clause("errors.invalid.values", "errors.from_store")
def test_execution_names_of_the_wrong_type_are_named(harness: Harness) -> None:
    """A tenant_id, skill_name or skill_version that is not text names its field."""
    store = harness.store
    base = Execution(tenant_id=new_tenant(), skill_name="s", skill_version="1")
    wrong: list[str] = []
    for field in ("tenant_id", "skill_name", "skill_version"):
        for value in (12, ["a"], b"a"):
            bad = base.model_copy(update={field: value})
            for name, awaitable in (
                ("create", store.create_execution(bad)),
                ("insert", store.insert_execution(bad)),
            ):
                error = harness.run(raises(InvalidArgumentError, awaitable))
                if not _names(field, str(error)):
                    wrong.append(f"{name} {field}={value!r}: {error}")
    assert wrong == []


# -- capabilities.bulk.insert_atomic: a taken key in every table ---------------------------


@clause("capabilities.bulk.insert_atomic")
def test_bulk_insert_refuses_a_taken_key_in_every_table(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """In each table, a batch with a stored key (or key hash, or external id) writes nothing."""
    bulk = require_capability(BULK)
    assert isinstance(bulk, StoreBulk)
    tenant = new_tenant()
    run = harness.run
    stored = _bulk_records(tenant)
    for table in BULK_TABLES:
        run(call(bulk.bulk_insert(table, tenant, stored[table])))
    at = datetime(2023, 5, 1, tzinfo=UTC)
    key, session = stored["api_keys"][0], stored["sessions"][0]
    assert isinstance(key, APIKey)
    assert isinstance(session, Session)
    fresh: dict[str, BulkRecord] = {
        "api_keys": APIKey(
            id=str(uuid.uuid4()), key_hash=new_key_hash(), tenant_id=tenant, name="n", created_at=at
        ),
        "executions": Execution(
            id=str(uuid.uuid4()), tenant_id=tenant, skill_name="s", skill_version="1", created_at=at
        ),
        "files": File(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            name="f",
            s3_key="k",
            created_at=at,
            updated_at=at,
        ),
        "sessions": Session(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            external_id="other",
            created_at=at,
            last_accessed_at=at,
        ),
        "skills": SkillRecord(tenant_id=tenant, name="other", version="9", uploaded_at=at),
    }
    taken: list[tuple[str, BulkRecord]] = [(table, stored[table][0]) for table in BULK_TABLES]
    file = stored["files"][0]
    assert isinstance(file, File)
    taken += [
        # The key hash, or the external id, alone; the id alone, all else new.
        ("api_keys", key.model_copy(update={"id": str(uuid.uuid4())})),
        ("sessions", session.model_copy(update={"id": str(uuid.uuid4())})),
        ("api_keys", key.model_copy(update={"key_hash": new_key_hash()})),
        ("sessions", session.model_copy(update={"external_id": "new"})),
        ("files", file.model_copy(update={"name": "b", "version": 7, "session_id": None})),
    ]
    for table, record in taken:
        run(raises(ConflictError, bulk.bulk_insert(table, tenant, [fresh[table], record])))
        assert run(call(bulk.bulk_find(table, tenant, [fresh[table]]))) == [None], table


def _bulk_records(tenant: str) -> dict[str, list[BulkRecord]]:
    """One record of each table, the file naming the execution and the session."""
    at = datetime(2023, 5, 1, tzinfo=UTC)
    session = Session(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        external_id="chat",
        created_at=at,
        last_accessed_at=at,
    )
    execution = Execution(
        id=str(uuid.uuid4()), tenant_id=tenant, skill_name="s", skill_version="1", created_at=at
    )
    file = File(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        name="a",
        s3_key="k",
        session_id=session.id,
        execution_id=execution.id,
        created_at=at,
        updated_at=at,
    )
    key = APIKey(
        id=str(uuid.uuid4()), key_hash=new_key_hash(), tenant_id=tenant, name="k", created_at=at
    )
    skill = SkillRecord(tenant_id=tenant, name="s", version="1", uploaded_at=at)
    return {
        "api_keys": [key],
        "executions": [execution],
        "files": [file],
        "sessions": [session],
        "skills": [skill],
    }


def _nest(depth: int, inner: Any) -> Any:
    """``inner`` inside ``depth`` lists of one item."""
    for _ in range(depth):
        inner = [inner]
    return inner


@clause("input.json.depth")
def test_depth_counts_shared_lists_where_they_are_used(harness: Harness) -> None:
    """A list used twice is as deep as its deepest use: 64 in all is kept, 65 refused."""
    store = harness.store
    tenant = new_tenant()
    run = harness.run
    base = Execution(tenant_id=tenant, skill_name="s", skill_version="1")
    # x is 60 deep and y 61; each is used first near the top, then deeper down.
    x = _nest(JSON_MAX_DEPTH - 5, [0] * 300)
    y = [x]
    for extra in (0, 1):
        for value in ([x, _nest(3 + extra, x)], [x, y, _nest(2 + extra, y)]):
            sent = base.model_copy(update={"input": value})
            if extra == 0:
                stored = run(call(store.create_execution(sent)))
                assert run(call(store.get_execution(tenant, stored.id))).input == value
            else:
                error = run(raises(InvalidArgumentError, store.create_execution(sent)))
                assert _names("input", str(error)), error


@clause("input.json.size")
def test_exactly_the_cap_is_kept_however_it_is_reached(harness: Harness) -> None:
    """1,000,000 values are kept and one more refused, however the count gets there."""
    store = harness.store
    tenant = new_tenant()
    run = harness.run
    base = Execution(tenant_id=tenant, skill_name="s", skill_version="1")
    shared = [0] * 10  # 11 values each time it is used
    at_cap: list[Any] = [
        [None] * (JSON_MAX_VALUES - 1),  # the list, then its last value
        {"a": 0, "rows": [None] * (JSON_MAX_VALUES - 3)},  # ends as the inner list closes
        [*([0] * (JSON_MAX_VALUES - 23)), shared, shared],  # ends with a list seen before
    ]
    for value in at_cap:
        stored = run(call(store.create_execution(base.model_copy(update={"input": value}))))
        assert run(call(store.get_execution(tenant, stored.id))).input == value
    # One value more, passing the cap at a plain value, or at a list seen before.
    over_cap: list[Any] = [
        [[0, 0], *([0] * (JSON_MAX_VALUES - 3))],
        [*([0] * (JSON_MAX_VALUES - 22)), shared, shared],
    ]
    for value in over_cap:
        sent = base.model_copy(update={"input": value})
        error = run(raises(InvalidArgumentError, store.create_execution(sent)))
        assert _names("input", str(error)), error
