"""Hostile input in every argument, on every backend: ``input.hostile.safe``.

Every call with a hostile argument gives a correct result, or `InvalidArgumentError`, or
`NotFoundError` where an id names nothing; never another exception. A call that is
refused, or that only looks, leaves the store as it was, which the listings of the
tenants involved show. Which outcome is correct is decided by the documented rules
(docs/contract.md, "Bad input and limits"), not by asking the backend: a value the rules
allow must be stored and read back exactly.

`test_limits.py` proves each limit on its own, clause by clause; this file sweeps the
same kinds of values through every argument of every method at once, the way bugs in
SQL builders and drivers are found. Opening with hostile URLs and schema names is each
backend's own affair, tested in ``tests/test_hostile_urls.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import pytest

from skillbox_store import (
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    SkillRecord,
    Store,
)
from skillbox_store.limits import INDEXED_TEXT_MAX_BYTES, JSON_MAX_DEPTH

from .clauses import clause
from .harness import Harness, assert_from_store, call, new_key_hash, new_tenant

# -- The table of hostile text ------------------------------------------------------------


def _incompressible(size: int) -> str:
    """``size`` UTF-8 bytes of 3-byte characters in no repeating pattern."""
    chars = [chr(0x4E00 + (i * 7919) % 20_000) for i in range(size // 3)]
    text = "".join(chars)
    return text + "x" * (size - len(text.encode()))


HOSTILE_TEXT: Final[dict[str, str]] = {
    "single quote": "'",
    "quotes": 'O\'Reilly "q" `b`',
    "semicolon": "x'; DROP TABLE api_keys; --",
    "%s": "%s",
    "%(x)s": "%(x)s",
    "%%": "a%%b%",
    "?": "?",
    "?1": "?1 ?2",
    ":name $1": ":name $1",
    "--": "-- comment",
    "/*": "/* open comment",
    "backslash": "\\'\\\\",
    "LIKE wildcards": "_%[^]*",
    "RTL": "\u202egnp.exe \u05e9\u05dc\u05d5\u05dd",
    "combining": "e\u0301\u0302\u0303\u0304",
    "astral": "\U0001d54f\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "control": "a\nb\tc\r\x1b[0m\x7f",
    "NUL": "a\x00b",
    "lone surrogate": "a\ud800b",
    "64 KB": "k" * 65_536,
    "over-long indexed": _incompressible(INDEXED_TEXT_MAX_BYTES + 1),
    "indexed limit": _incompressible(INDEXED_TEXT_MAX_BYTES - 9),  # the 9-byte prefix fills it
    "10 MB": "m" * 10_000_000,
}
"""Text that has broken stores, drivers or SQL builders somewhere, by name."""

# Writing 10 MB into every field would only make the test slow: the first two writes
# (execution logs, file s3_key) carry it, and every indexed argument refuses it.
HEAVY: Final = "10 MB"


def _storable(value: str, *, indexed: bool) -> bool:
    """Whether the documented rules let a store keep ``value`` in such a field."""
    if "\x00" in value:
        return False
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    return not indexed or size <= INDEXED_TEXT_MAX_BYTES


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


# -- Outcomes -------------------------------------------------------------------------------

Call = Callable[[Store], Awaitable[Any]]
Verify = Callable[[Store, Any], Awaitable[None]]

INVALID: Final = "InvalidArgumentError"
NOT_FOUND: Final = "NotFoundError"
NO_CHANGE: Final = "a result, nothing changed"


@dataclass(frozen=True)
class Case:
    """One call and what it must do: refuse, not find, or return what ``verify`` accepts.

    ``verify`` of a call that must change nothing (``writes`` False) checks its result;
    the unchanged store is checked for it as for a refusal.
    """

    label: str
    call: Call
    expect: str
    verify: Verify | None = None
    writes: bool = False


def _equals(expected: object) -> Verify:
    async def verify(store: Store, result: object) -> None:
        assert result == expected, f"returned {_short(result)}, expected {_short(expected)}"

    return verify


@dataclass
class Watched:
    """The tenants whose listings must not change under a refused call."""

    tenants: list[str]
    external_ids: dict[str, list[str]] = field(default_factory=dict)

    async def state(self, store: Store) -> list[Any]:
        state: list[Any] = []
        for tenant in self.tenants:
            # Records compare field by field; dumping them would cost more than the calls.
            state += [
                await call(store.list_keys(tenant)),
                await call(store.list_executions(tenant, limit=100)),
                await call(store.list_files(FileFilter(tenant_id=tenant, limit=200))),
                await call(store.list_skills(tenant)),
            ]
            for external_id in self.external_ids.get(tenant, []):
                try:
                    state.append(await store.get_session_by_external_id(tenant, external_id))
                except NotFoundError:
                    state.append(None)
        return state


async def _run_cases(store: Store, watched: Watched, cases: list[Case]) -> None:
    """Run each case; fail with its label on the first wrong outcome.

    The listings are compared around every call that must change nothing; they are read
    again before one only when a write came since, as they are the bulk of the cost.
    """
    baseline: list[Any] | None = None
    for case in cases:
        if baseline is None and not (case.writes and case.expect == NO_CHANGE):
            baseline = await watched.state(store)
        try:
            result = await asyncio.wait_for(case.call(store), timeout=30)
        except (InvalidArgumentError, NotFoundError) as exc:
            wanted = INVALID if isinstance(exc, InvalidArgumentError) else NOT_FOUND
            if case.expect != wanted:
                raise AssertionError(
                    f"{case.label}: expected {case.expect}, got {type(exc).__name__}: "
                    f"{_short(str(exc))}"
                ) from exc
            after = await watched.state(store)
            assert after == baseline, f"{case.label}: the refused call changed the store"
            continue
        except Exception as exc:
            assert_from_store(exc)
            raise AssertionError(
                f"{case.label}: expected {case.expect}, got {type(exc).__name__}: "
                f"{_short(str(exc))}"
            ) from exc
        if case.expect in (INVALID, NOT_FOUND):
            raise AssertionError(
                f"{case.label}: expected {case.expect}, the call returned {_short(result)}"
            )
        if case.verify is not None:
            try:
                await case.verify(store, result)
            except AssertionError as exc:
                raise AssertionError(f"{case.label}: {exc}") from exc
        if case.writes:
            baseline = None
        else:
            after = await watched.state(store)
            assert after == baseline, f"{case.label}: a call that only looks changed the store"


# -- The world the calls act on ------------------------------------------------------------


@dataclass(frozen=True)
class Other:
    """Another tenant's records: their ids are valid UUIDs that must find nothing."""

    tenant: str
    key_id: str
    execution_id: str
    file_id: str
    session_id: str


async def _other_tenant(store: Store) -> Other:
    tenant = new_tenant()
    key = await call(store.create_key(tenant, "k", new_key_hash()))
    execution = await call(
        store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1"))
    )
    session = await call(store.get_or_create_session(tenant, "ext"))
    file = await call(
        store.create_file(
            File(
                tenant_id=tenant,
                name="f",
                s3_key="k",
                session_id=session.id,
                execution_id=execution.id,
            )
        )
    )
    await call(store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1")))
    return Other(tenant, key.id, execution.id, file.id, session.id)


def _execution(tenant: str, **changes: Any) -> Execution:
    return Execution(tenant_id=tenant, skill_name="s", skill_version="1").model_copy(update=changes)


def _stored_execution(field_name: str, value: object) -> Verify:
    async def verify(store: Store, made: Execution) -> None:
        assert getattr(made, field_name) == value, f"{field_name} returned differently"
        back = await call(store.get_execution(made.tenant_id, made.id))
        assert back == made, "read back differently"

    return verify


def _stored_file(field_name: str, value: object) -> Verify:
    async def verify(store: Store, made: File) -> None:
        assert getattr(made, field_name) == value, f"{field_name} returned differently"
        assert await call(store.get_file(made.tenant_id, made.id)) == made, "read back differently"

    return verify


def _stored_skill(store_field: str, value: object) -> Verify:
    async def verify(store: Store, made: SkillRecord) -> None:
        assert getattr(made, store_field) == value, f"{store_field} returned differently"
        back = await call(store.get_skill(made.tenant_id, made.name, made.version))
        assert back == made, "read back differently"

    return verify


def _lookups(v: str, w: str, other: Other) -> list[Case]:
    """Calls that only look, with ``v`` as tenant, external id, name, hash or id."""
    tenant_ok = _storable(v, indexed=True)
    missing = NOT_FOUND if tenant_ok else INVALID

    def empty(label: str, make: Call) -> Case:
        return Case(label, make, NO_CHANGE if tenant_ok else INVALID, _equals([]))

    return [
        empty("list_keys(v)", lambda s: s.list_keys(v)),
        empty("list_executions(v)", lambda s: s.list_executions(v, limit=10**9)),
        empty("list_files(tenant v)", lambda s: s.list_files(FileFilter(tenant_id=v))),
        empty("list_skills(v)", lambda s: s.list_skills(v)),
        empty("list_session_files(v, ...)", lambda s: s.list_session_files(v, other.session_id)),
        empty("list_file_versions(v, ...)", lambda s: s.list_file_versions(v, other.file_id)),
        Case("get_execution(v, ...)", lambda s: s.get_execution(v, other.execution_id), missing),
        Case("get_file(v, ...)", lambda s: s.get_file(v, other.file_id), missing),
        Case("delete_file(v, ...)", lambda s: s.delete_file(v, other.file_id), missing),
        Case("get_session(v, ...)", lambda s: s.get_session(v, other.session_id), missing),
        Case("touch_session(v, ...)", lambda s: s.touch_session(v, other.session_id), missing),
        Case("revoke_key(v, ...)", lambda s: s.revoke_key(v, other.key_id), missing),
        Case(
            "get_session_by_external_id(w, v)",
            lambda s: s.get_session_by_external_id(w, v),
            missing,
        ),
        Case("delete_session(w, v)", lambda s: s.delete_session(w, v), missing),
        Case("get_skill(w, v, 1)", lambda s: s.get_skill(w, v, "1"), missing),
        Case("get_skill(w, s, v)", lambda s: s.get_skill(w, "s", v), missing),
        Case("resolve_latest_version(w, v)", lambda s: s.resolve_latest_version(w, v), missing),
        Case(
            "delete_skill(w, v, 1)",
            lambda s: s.delete_skill(w, v, "1"),
            NO_CHANGE if tenant_ok else INVALID,
        ),
        # No hostile text is a key hash (lowercase hex), so these are always refused.
        Case("get_key_by_hash(v)", lambda s: s.get_key_by_hash(v), INVALID),
        Case("validate_key(v)", lambda s: s.validate_key(v), INVALID),
        Case("create_key(w, n, v)", lambda s: s.create_key(w, "n", v), INVALID),
        # As an id, any text that is not a UUID names nothing.
        Case("get_execution(w, v)", lambda s: s.get_execution(w, v), NOT_FOUND),
        Case("get_file(w, v)", lambda s: s.get_file(w, v), NOT_FOUND),
        Case("get_session(w, v)", lambda s: s.get_session(w, v), NOT_FOUND),
        Case("revoke_key(w, v)", lambda s: s.revoke_key(w, v), NOT_FOUND),
        Case("list_executions(w, after=v)", lambda s: s.list_executions(w, after=v), NOT_FOUND),
        Case(
            "list_file_versions(w, v)", lambda s: s.list_file_versions(w, v), NO_CHANGE, _equals([])
        ),
        Case(
            "list_files(w, session_id=v)",
            lambda s: s.list_files(FileFilter(tenant_id=w, session_id=v)),
            NO_CHANGE,
            _equals([]),
        ),
    ]


def _writes(v: str, w: str, heavy: bool, running: Execution, file: File) -> list[Case]:
    """Calls that store ``v`` in each text field they take, into tenant ``w`` (or ``v``)."""
    indexed_ok = _storable(v, indexed=True)
    plain_ok = _storable(v, indexed=False)

    def write(label: str, make: Call, *, indexed: bool, verify: Verify) -> Case:
        ok = indexed_ok if indexed else plain_ok
        return Case(label, make, NO_CHANGE if ok else INVALID, verify, writes=True)

    key_hash = new_key_hash()

    async def key_named(store: Store, key: Any) -> None:
        assert key.name == v, "name returned differently"
        assert await call(store.get_key_by_hash(key_hash)) == key, "read back differently"

    async def key_of_tenant(store: Store, key: Any) -> None:
        assert await call(store.list_keys(v)) == [key], "listed differently"

    async def session_named(store: Store, session: Any) -> None:
        assert session.external_id == v
        assert await call(store.get_session_by_external_id(w, v)) == session

    async def session_of_tenant(store: Store, session: Any) -> None:
        assert await call(store.get_session(v, session.id)) == session

    def execution(label: str, indexed: bool, **changes: Any) -> Case:
        (name, value), *_ = changes.items()
        made = _execution(w, **changes)
        return write(
            f"create_execution {label}",
            lambda s: s.create_execution(made),
            indexed=indexed,
            verify=_stored_execution(name, value),
        )

    def new_file(label: str, indexed: bool, **changes: Any) -> Case:
        (name, value), *_ = changes.items()
        made = File(tenant_id=w, name="f", s3_key="k").model_copy(update=changes)
        return write(
            label, lambda s: s.create_file(made), indexed=indexed, verify=_stored_file(name, value)
        )

    def skill(label: str, indexed: bool, **changes: Any) -> Case:
        (name, value), *_ = changes.items()
        made = SkillRecord(tenant_id=w, name="s", version="1").model_copy(update=changes)
        return write(
            label,
            lambda s: s.upsert_skill(made),
            indexed=indexed,
            verify=_stored_skill(name, value),
        )

    finished = running.model_copy(
        update={"status": "success", "logs": v, "error": v, "output": {v: [v]}}
    )
    cases = [
        execution("logs", False, logs=v),
        new_file("file s3_key", False, s3_key=v),
    ]
    if heavy:
        return cases
    return [
        *cases,
        write(
            "create_key(v, n, h)",
            lambda s: s.create_key(v, "n", new_key_hash()),
            indexed=True,
            verify=key_of_tenant,
        ),
        write(
            "create_key(w, v, h)",
            lambda s: s.create_key(w, v, key_hash),
            indexed=True,
            verify=key_named,
        ),
        execution("tenant_id", True, tenant_id=v),
        execution("skill_name", True, skill_name=v),
        execution("skill_version", True, skill_version=v),
        execution("error", False, error=v),
        execution("files_url", False, files_url=v),
        execution("files_list", False, files_list=[v, v]),
        execution("input", False, input={v: [v, {"k": v}]}),
        execution("output", False, output=[v]),
        write(
            "update_execution outcome",
            lambda s: s.update_execution(finished),
            indexed=False,
            verify=_stored_execution("logs", v),
        ),
        new_file("file tenant_id", True, tenant_id=v),
        new_file("file name", True, name=v),
        new_file("file content_type", False, content_type=v),
        write(
            "update_file name",
            lambda s: s.update_file(file.model_copy(update={"name": v})),
            indexed=True,
            verify=_stored_file("name", v),
        ),
        write(
            "create_file_version name",
            lambda s: s.create_file_version(w, file.id, name=v, size_bytes=1, s3_key="k2"),
            indexed=True,
            verify=_stored_file("name", v),
        ),
        write(
            "create_file_version s3_key",
            lambda s: s.create_file_version(w, file.id, size_bytes=1, s3_key=v),
            indexed=False,
            verify=_stored_file("s3_key", v),
        ),
        write(
            "get_or_create_session(w, v)",
            lambda s: s.get_or_create_session(w, v),
            indexed=True,
            verify=session_named,
        ),
        write(
            "get_or_create_session(v, ext)",
            lambda s: s.get_or_create_session(v, "ext"),
            indexed=True,
            verify=session_of_tenant,
        ),
        skill("upsert_skill tenant_id", True, tenant_id=v),
        skill("upsert_skill name", True, name=v),
        skill("upsert_skill version", True, version=v),
        skill("upsert_skill description", False, description=v),
        skill("upsert_skill lang", False, lang=v),
    ]


@clause("input.hostile.safe", "errors.invalid.nothing_written")
@pytest.mark.parametrize("name", list(HOSTILE_TEXT))
def test_hostile_text_in_every_argument(harness: Harness, name: str) -> None:
    """Each text argument of each method, given hostile text, behaves as the rules say."""
    store = harness.store
    # A unique prefix: the store may hold other tests' data, and this run's too.
    v = f"{uuid.uuid4().hex[:8]}-{HOSTILE_TEXT[name]}"
    w = new_tenant()
    other = harness.run(_other_tenant(store))
    running = harness.run(call(store.create_execution(_execution(w))))
    file = harness.run(call(store.create_file(File(tenant_id=w, name="f", s3_key="k"))))
    sessions = {w: [v] if _storable(v, indexed=True) else [], other.tenant: ["ext"]}
    watched = Watched([w, other.tenant], sessions)
    cases = _lookups(v, w, other) + _writes(v, w, name == HEAVY, running, file)
    started = time.monotonic()
    harness.run(_run_cases(store, watched, cases))
    assert time.monotonic() - started < 30


# -- Ids, pages, JSON and times -------------------------------------------------------------


@clause("input.hostile.safe", "errors.scope.not_found")
def test_another_tenants_valid_ids_find_nothing(harness: Harness) -> None:
    """Every id argument given another tenant's real id: not found, and that tenant intact."""
    store = harness.store
    other = harness.run(_other_tenant(store))
    w = new_tenant()
    mine = harness.run(call(store.create_file(File(tenant_id=w, name="f", s3_key="k"))))
    stranger = _execution(w, id=other.execution_id, status="success")
    cases = [
        Case("get_execution", lambda s: s.get_execution(w, other.execution_id), NOT_FOUND),
        Case("update_execution", lambda s: s.update_execution(stranger), NOT_FOUND),
        Case("get_file", lambda s: s.get_file(w, other.file_id), NOT_FOUND),
        Case(
            "update_file",
            lambda s: s.update_file(mine.model_copy(update={"id": other.file_id})),
            NOT_FOUND,
        ),
        Case("delete_file", lambda s: s.delete_file(w, other.file_id), NOT_FOUND),
        Case(
            "create_file_version",
            lambda s: s.create_file_version(w, other.file_id, size_bytes=1, s3_key="k"),
            NOT_FOUND,
        ),
        Case(
            "create_file parent_id",
            lambda s: s.create_file(
                File(tenant_id=w, name="f", s3_key="k", parent_id=other.file_id, version=2)
            ),
            NOT_FOUND,
        ),
        Case(
            "create_file execution_id",
            lambda s: s.create_file(
                File(tenant_id=w, name="f", s3_key="k", execution_id=other.execution_id)
            ),
            NOT_FOUND,
        ),
        Case("get_session", lambda s: s.get_session(w, other.session_id), NOT_FOUND),
        Case("touch_session", lambda s: s.touch_session(w, other.session_id), NOT_FOUND),
        Case("revoke_key", lambda s: s.revoke_key(w, other.key_id), NOT_FOUND),
        Case(
            "list_executions after",
            lambda s: s.list_executions(w, after=other.execution_id),
            NOT_FOUND,
        ),
        Case(
            "list_session_files",
            lambda s: s.list_session_files(w, other.session_id),
            NO_CHANGE,
            _equals([]),
        ),
        Case(
            "list_file_versions",
            lambda s: s.list_file_versions(w, other.file_id),
            NO_CHANGE,
            _equals([]),
        ),
        Case(
            "list_files session_id",
            lambda s: s.list_files(FileFilter(tenant_id=w, session_id=other.session_id)),
            NO_CHANGE,
            _equals([]),
        ),
        Case(
            "list_files execution_id",
            lambda s: s.list_files(FileFilter(tenant_id=w, execution_id=other.execution_id)),
            NO_CHANGE,
            _equals([]),
        ),
    ]
    harness.run(_run_cases(store, Watched([w, other.tenant], {other.tenant: ["ext"]}), cases))


SEEDED_EXECUTIONS: Final = 300


@clause("input.hostile.safe", "errors.invalid.page")
def test_huge_limits_and_offsets(harness: Harness) -> None:
    """limit=10**9 is clamped, offset=10**18 is an empty page at once, 2**63 is refused."""
    store = harness.store
    w = new_tenant()

    async def seed() -> None:
        async with store.transaction() as tx:
            for _ in range(SEEDED_EXECUTIONS):
                await call(tx.create_execution(_execution(w)))
            for _ in range(210):
                await call(tx.create_file(File(tenant_id=w, name="f", s3_key="k")))

    harness.run(seed())

    async def page_sizes(store: Store) -> list[int]:
        return [
            len(await call(store.list_executions(w, limit=10**9))),
            len(await call(store.list_files(FileFilter(tenant_id=w, limit=10**9)))),
        ]

    cases = [
        Case("limit 10**9", page_sizes, NO_CHANGE, _equals([100, 200])),
        Case(
            "list_executions offset 10**18",
            lambda s: s.list_executions(w, limit=10**9, offset=10**18),
            NO_CHANGE,
            _equals([]),
        ),
        Case(
            "list_files offset 10**18",
            lambda s: s.list_files(FileFilter(tenant_id=w, limit=10**9, offset=10**18)),
            NO_CHANGE,
            _equals([]),
        ),
        Case("offset 2**63", lambda s: s.list_executions(w, offset=2**63), INVALID),
        Case("offset 10**5000", lambda s: s.list_executions(w, offset=10**5000), INVALID),
        Case("limit 0", lambda s: s.list_executions(w, limit=0), INVALID),
        Case(
            "list_files offset 2**63",
            lambda s: s.list_files(FileFilter(tenant_id=w, offset=2**63)),
            INVALID,
        ),
    ]
    harness.run(_run_cases(store, Watched([w]), cases))
    # Skipping past the end costs at most a walk of the tenant's index entries.
    started = time.monotonic()
    for _ in range(10):
        assert harness.run(call(store.list_executions(w, offset=10**18))) == []
    per_call = (time.monotonic() - started) / 10
    assert per_call < 0.25, f"offset=10**18 over {SEEDED_EXECUTIONS} rows took {per_call:.3f} s"


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


BIG_FLOATS: Final = [1e300, 1e20, 1.7976931348623157e308, -1e300, 5e-324, -0.0]


def _typed(value: object) -> object:
    if isinstance(value, dict):
        return {k: _typed(child) for k, child in value.items()}
    if isinstance(value, list):
        return [_typed(child) for child in value]
    return (type(value).__name__, value)


@clause("input.hostile.safe", "input.json.integers", "input.time.convertible")
def test_hostile_json_numbers_and_times(harness: Harness) -> None:
    """Deep, huge and numerically extreme JSON, and times that leave datetime's range."""
    store = harness.store
    w = new_tenant()
    running = harness.run(call(store.create_execution(_execution(w))))
    huge_list = list(range(100_000))
    huge_object = {f"k{i}": {"v": [i, str(i), i * 0.5]} for i in range(10_000)}

    def stored_same(value: Any) -> Verify:
        async def verify(store: Store, made: Execution) -> None:
            back = await call(store.get_execution(w, made.id))
            assert _typed(back.input) == _typed(value), "read back differently"

        return verify

    def create(label: str, value: Any, expect: str) -> Case:
        made = _execution(w, input=value)
        verify = stored_same(value) if expect == NO_CHANGE else None
        return Case(label, lambda s: s.create_execution(made), expect, verify, writes=True)

    def finish(label: str, expect: str, **changes: Any) -> Case:
        update = running.model_copy(update={"status": "success", **changes})
        return Case(label, lambda s: s.update_execution(update), expect, writes=True)

    utc_minus_5 = timezone(timedelta(hours=-5))
    too_late = datetime(9999, 12, 31, 23, tzinfo=utc_minus_5)
    too_early = datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    cases = [
        create("input 65 deep", _nested(JSON_MAX_DEPTH + 1), INVALID),
        create("input 100,000 deep", _nested(100_000), INVALID),
        create("input 2**64", [2**64], INVALID),
        create("input 10**5000", {"n": 10**5000}, INVALID),
        create("input big floats", {"f": BIG_FLOATS, "i": [2**63, -(2**63)]}, NO_CHANGE),
        create("input 64 deep", _nested(JSON_MAX_DEPTH), NO_CHANGE),
        finish("output 100,000 deep", INVALID, output=_nested(100_000)),
        finish("output -10**5000", INVALID, output=[-(10**5000)]),
        finish("finished_at 9999 at UTC-5", INVALID, finished_at=too_late),
        finish("finished_at year 1 at UTC+5", INVALID, finished_at=too_early),
        Case(
            "insert_execution finished_at 9999 at UTC-5",
            lambda s: s.insert_execution(_execution(w, status="failed", finished_at=too_late)),
            INVALID,
        ),
        Case(
            "prune_executions before year 1 at UTC+5",
            lambda s: s.prune_executions(w, too_early),
            INVALID,
        ),
        Case(
            "insert_execution finished_at max",
            lambda s: s.insert_execution(
                _execution(w, status="failed", finished_at=datetime.max.replace(tzinfo=UTC))
            ),
            NO_CHANGE,
            _stored_execution("finished_at", datetime.max.replace(tzinfo=UTC)),
            writes=True,
        ),
        finish(
            "output big floats",
            NO_CHANGE,
            output=BIG_FLOATS,
            finished_at=datetime.min.replace(tzinfo=UTC),
        ),
        # Last, so that the listings compared after each call stay small until here.
        create("input 100,000 ints", huge_list, NO_CHANGE),
        create("input 10,000 keys", huge_object, NO_CHANGE),
    ]
    harness.run(_run_cases(store, Watched([w]), cases))
    back = harness.run(call(store.get_execution(w, running.id)))
    assert _typed(back.output) == _typed(BIG_FLOATS)
    assert back.finished_at == datetime.min.replace(tzinfo=UTC)
