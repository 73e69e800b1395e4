"""The limits of docs/contract.md, section "Bad input and limits".

JSON depth and integers, datetimes, indexed text, key hashes, exact types, the largest
page offset; and JSON numbers that must keep their type.

Each refused call goes through `raises` (the error must be the store's own) and is
followed by a look at the tenant's listings, which must not have changed.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Final, TypeVar

from pydantic import JsonValue

from skillbox_store import (
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    SkillRecord,
    Store,
    generate_key,
    hash_key,
)
from skillbox_store.limits import (
    INDEXED_TEXT_MAX_BYTES,
    INT64_MAX,
    JSON_INT_MAX,
    JSON_INT_MIN,
    JSON_MAX_DEPTH,
    JSON_MAX_VALUES,
)

from .clauses import clause
from .harness import Harness, call, message_names, new_key_hash, new_tenant, raises

T = TypeVar("T")
Call = Callable[[Store], Awaitable[object]]

UNUSED_ID: Final = "0b6d1f2e-7c1a-4c1e-9a43-3f1f8b2f9a10"


def _nested(depth: int, leaf: JsonValue = 1) -> JsonValue:
    """``depth`` lists, one inside the other, around ``leaf``."""
    value: JsonValue = leaf
    for _ in range(depth):
        value = [value]
    return value


def _nested_objects(depth: int) -> JsonValue:
    value: JsonValue = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def _incompressible(prefix: str, size: int) -> str:
    """Text of exactly ``size`` UTF-8 bytes that no compressor shrinks (3-byte CJK).

    Seeded by the prefix so a failure replays; PostgreSQL compresses index entries
    before checking their size, so repetitive text would not test the limit.
    """
    rng = random.Random(prefix)
    budget = size - len(prefix.encode())
    text = prefix + "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(budget // 3))
    return text + "x" * (size - len(text.encode()))


def _execution(tenant: str, **changes: Any) -> Execution:
    # model_copy skips validation, so values the record type refuses still reach the store.
    base = Execution(tenant_id=tenant, skill_name="skill", skill_version="1.0")
    return base.model_copy(update=changes)


async def _state(store: Store, tenant: str, external_ids: tuple[str, ...] = ()) -> list[Any]:
    """Everything the tenant holds, to compare before and after a refused call."""
    state: list[Any] = [
        [k.model_dump() for k in await call(store.list_keys(tenant))],
        [e.model_dump() for e in await call(store.list_executions(tenant, limit=100))],
        [f.model_dump() for f in await call(store.list_files(FileFilter(tenant_id=tenant)))],
        [s.model_dump() for s in await call(store.list_skills(tenant))],
    ]
    for external_id in external_ids:
        try:
            state.append((await store.get_session_by_external_id(tenant, external_id)).id)
        except NotFoundError:
            state.append(None)
    return state


def _refused(
    harness: Harness,
    tenant: str,
    cases: list[tuple[str, Call]],
    *,
    naming: str | None = None,
    external_ids: tuple[str, ...] = (),
) -> list[InvalidArgumentError]:
    """Each call must be InvalidArgumentError (naming ``naming``) and change nothing."""
    store = harness.store
    before = harness.run(_state(store, tenant, external_ids))
    caught = []
    for label, make_call in cases:
        try:
            error = harness.run(raises(InvalidArgumentError, make_call(store)))
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from exc
        if naming is not None:
            assert naming in str(error), f"{label}: the message does not name {naming}: {error}"
        assert harness.run(_state(store, tenant, external_ids)) == before, (
            f"{label}: the refused call changed the store"
        )
        caught.append(error)
    return caught


def _with_each_writer(tenant: str, running_id: str, **changes: Any) -> list[tuple[str, Call]]:
    """The three calls that write an execution's fields, each given ``changes``."""
    bad = _execution(tenant, **changes)
    finished = bad if "status" in changes else bad.model_copy(update={"status": "success"})
    update = finished.model_copy(update={"id": running_id})
    cases: list[tuple[str, Call]] = [
        ("create_execution", lambda s: s.create_execution(bad)),
        ("insert_execution", lambda s: s.insert_execution(finished)),
    ]
    if "input" not in changes:
        # update_execution writes the outcome only; input is not part of it.
        cases.append(("update_execution", lambda s: s.update_execution(update)))
    return cases


def _at_stack_depth(frames: int, action: Callable[[], T]) -> T:
    """Run ``action`` with ``frames`` more Python frames below it, as a deep caller would."""
    if frames <= 0:
        return action()
    return _at_stack_depth(frames - 1, action)


@clause("input.json.depth")
def test_json_nesting_is_limited(harness: Harness) -> None:
    """Deeper than the limit is refused on every write; the limit itself reads back."""
    t = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(t))))
    for field in ("input", "output"):
        for label, too_deep in (
            ("lists", _nested(JSON_MAX_DEPTH + 1)),
            ("objects", _nested_objects(JSON_MAX_DEPTH + 1)),
            ("100,000 lists", _nested(100_000)),
        ):
            cases = _with_each_writer(t, running.id, **{field: too_deep})
            _refused(harness, t, [(f"{c} {field} {label}", f) for c, f in cases], naming=field)
    # An object, 62 lists and an object: exactly the limit.
    deepest = {"a": _nested(JSON_MAX_DEPTH - 2, {"b": None})}
    stored = harness.run(call(store.create_execution(_execution(t, input=deepest))))
    finished = harness.run(
        call(
            store.update_execution(
                stored.model_copy(update={"status": "success", "output": deepest})
            )
        )
    )
    assert finished.output == deepest
    # Read back from a caller already 700 frames deep: the accepted depth leaves room.
    listed = _at_stack_depth(700, lambda: harness.run(call(store.list_executions(t))))
    assert {e.id: (e.input, e.output) for e in listed}[stored.id] == (deepest, deepest)
    assert harness.run(call(store.get_execution(t, stored.id))).model_dump(mode="json")


@clause("input.json.size")
def test_json_size_is_limited(harness: Harness) -> None:
    """Over a million values is refused at once, shared lists counted once per use."""
    t = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(t))))
    shared: list[object] = []
    for _ in range(60):
        shared = [shared, shared]  # 2**61 values once written out
    # With the list itself, one value too many; in an object, the object counts too.
    flat = [0] * JSON_MAX_VALUES
    wrapped = {"rows": [0] * (JSON_MAX_VALUES - 1)}
    for field in ("input", "output"):
        for label, too_big in (
            ("a shared list 60 deep", shared),
            ("a flat list", flat),
            ("an object of a list", wrapped),
        ):
            started = time.monotonic()
            cases = _with_each_writer(t, running.id, **{field: too_big})
            _refused(harness, t, [(f"{c} {field} {label}", f) for c, f in cases], naming=field)
            elapsed = time.monotonic() - started
            # A value that would expand to 2**61 never finishes; a minute tells the two
            # apart even under a mutation tool's tracing or on a loaded machine.
            assert elapsed < 60, f"refusing {label} took {elapsed:.1f} s"
    # The limit itself is accepted: an object (1) holding a list (1) of 999,998 values.
    at_limit = {"rows": [None] * (JSON_MAX_VALUES - 3), "n": 1}
    stored = harness.run(call(store.create_execution(_execution(t, input=at_limit))))
    assert harness.run(call(store.get_execution(t, stored.id))).input == at_limit


@clause("input.json.size")
def test_a_shared_object_is_refused_at_once(harness: Harness) -> None:
    """An object shared sixty levels over is measured once per object: refused at once."""
    t = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(t))))
    shared: dict[str, object] = {}
    for _ in range(60):
        shared = {"a": shared, "b": shared}  # 2**61 values once written out
    for field in ("input", "output"):
        for label, make_call in _with_each_writer(t, running.id, **{field: shared}):
            started = time.monotonic()
            harness.run(raises(InvalidArgumentError, make_call(store)))
            elapsed = time.monotonic() - started
            # The check takes microseconds; walking the shared objects again at each use
            # would take a million steps before the cap stops it.
            assert elapsed < 1.0, f"{label} {field}: refusing took {elapsed:.2f} s"


@clause("input.json.integers")
def test_json_integers_are_64_bit(harness: Harness) -> None:
    """Integers from -2**63 to 2**64-1 read back as ints; any beyond is refused."""
    t = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(t))))
    for label, number in (
        ("2**64", JSON_INT_MAX + 1),
        ("-2**63-1", JSON_INT_MIN - 1),
        ("5,000 digits", 10**5000),
        ("-5,000 digits", -(10**5000)),
    ):
        for field in ("input", "output"):
            cases = _with_each_writer(t, running.id, **{field: {"n": [number]}})
            _refused(harness, t, [(f"{c} {field} {label}", f) for c, f in cases], naming=field)
    edges = [JSON_INT_MIN, -(2**53) - 1, -1, 0, 1, 2**53 + 1, 2**63 - 1, 2**63, JSON_INT_MAX]
    stored = harness.run(call(store.create_execution(_execution(t, input=edges))))
    back = harness.run(call(store.get_execution(t, stored.id))).input
    assert back == edges
    assert isinstance(back, list)
    assert [type(n) for n in back] == [int] * len(edges)


class _Zone(tzinfo):
    """A fixed zone without daylight saving; subclasses choose the offset."""

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return type(self).__name__


class _Raising(_Zone):
    """A tzinfo whose utcoffset fails, as a buggy third-party zone might."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset today")


class _ThirtyHours(_Zone):
    """A tzinfo 30 hours ahead of UTC, which datetime itself refuses to apply."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=30)


@clause("input.time.convertible")
def test_datetimes_must_convert_to_utc(harness: Harness) -> None:
    """A time that cannot be moved to UTC is refused; the extremes that can read back."""
    t = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(t))))
    bad_times = {
        "year 9999 at UTC-5": datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
        "year 1 at UTC+5": datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        "a 30 h offset": datetime(2024, 1, 1, tzinfo=_ThirtyHours()),
        "utcoffset raises": datetime(2024, 1, 1, tzinfo=_Raising()),
    }
    for label, when in bad_times.items():
        cases = _with_each_writer(t, running.id, finished_at=when)
        _refused(harness, t, [(f"{c} {label}", f) for c, f in cases], naming="finished_at")
    for when in (
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=14))),
    ):
        stored = harness.run(
            call(store.insert_execution(_execution(t, status="success", finished_at=when)))
        )
        back = harness.run(call(store.get_execution(t, stored.id))).finished_at
        assert back == when
        assert back is not None
        assert back.utcoffset() == timedelta(0)


def _indexed_text_calls(
    t: str, v: str, file_id: str, skill: SkillRecord
) -> list[tuple[str, Call, str]]:
    """Every call that takes indexed text, given ``v`` there: (label, call, field named)."""
    return [
        (
            "create_key tenant_id",
            lambda s: s.create_key(v, "n", new_key_hash()),
            "tenant_id",
        ),
        ("create_key name", lambda s: s.create_key(t, v, new_key_hash()), "name"),
        ("list_keys", lambda s: s.list_keys(v), "tenant_id"),
        ("get_execution", lambda s: s.get_execution(v, UNUSED_ID), "tenant_id"),
        ("list_executions", lambda s: s.list_executions(v), "tenant_id"),
        (
            "create_execution skill_name",
            lambda s: s.create_execution(_execution(t, skill_name=v)),
            "skill_name",
        ),
        (
            "insert_execution skill_version",
            lambda s: s.insert_execution(_execution(t, skill_version=v)),
            "skill_version",
        ),
        (
            "create_file name",
            lambda s: s.create_file(File(tenant_id=t, name=v, s3_key="k")),
            "name",
        ),
        ("get_file", lambda s: s.get_file(v, file_id), "tenant_id"),
        (
            "list_files",
            lambda s: s.list_files(FileFilter(tenant_id=v)),
            "tenant_id",
        ),
        (
            "get_or_create_session external_id",
            lambda s: s.get_or_create_session(t, v),
            "external_id",
        ),
        (
            "get_session_by_external_id",
            lambda s: s.get_session_by_external_id(t, v),
            "external_id",
        ),
        ("delete_session", lambda s: s.delete_session(t, v), "external_id"),
        (
            "upsert_skill name",
            lambda s: s.upsert_skill(skill.model_copy(update={"name": v})),
            "name",
        ),
        (
            "upsert_skill version",
            lambda s: s.upsert_skill(skill.model_copy(update={"version": v})),
            "version",
        ),
        ("get_skill", lambda s: s.get_skill(t, v, "1"), "name"),
        ("resolve_latest_version", lambda s: s.resolve_latest_version(t, v), "name"),
        ("list_skills", lambda s: s.list_skills(v), "tenant_id"),
    ]


@clause("input.text.indexed_length")
def test_indexed_text_is_limited(harness: Harness) -> None:
    """Indexed text of the limit's length is kept; one byte more is refused, lookups too."""
    t = new_tenant()
    store = harness.store
    at_limit = _incompressible("at-limit-", INDEXED_TEXT_MAX_BYTES)
    over = _incompressible("over-", INDEXED_TEXT_MAX_BYTES + 1)
    huge = "x" * 10_000
    long_tenant = _incompressible(t, INDEXED_TEXT_MAX_BYTES)
    long_hash = (new_key_hash() * 8)[:INDEXED_TEXT_MAX_BYTES]

    # Accepted at the limit, every indexed field at once where an index joins them.
    key = harness.run(call(store.create_key(long_tenant, at_limit, long_hash)))
    assert harness.run(call(store.get_key_by_hash(long_hash))) == key
    session = harness.run(call(store.get_or_create_session(long_tenant, at_limit)))
    assert harness.run(call(store.get_session_by_external_id(long_tenant, at_limit))) == session
    skill = harness.run(
        call(
            store.upsert_skill(SkillRecord(tenant_id=long_tenant, name=at_limit, version=at_limit))
        )
    )
    assert harness.run(call(store.get_skill(long_tenant, at_limit, at_limit))) == skill
    made = harness.run(
        call(
            store.create_execution(
                Execution(tenant_id=long_tenant, skill_name=at_limit, skill_version=at_limit)
            )
        )
    )
    assert harness.run(call(store.get_execution(long_tenant, made.id))) == made
    file = File(tenant_id=long_tenant, name=at_limit, s3_key="k")
    assert harness.run(call(store.create_file(file))).name == at_limit

    stored = harness.run(call(store.create_file(File(tenant_id=t, name="f", s3_key="k"))))
    skill_of_t = SkillRecord(tenant_id=t, name="n", version="1")
    for label, value in (("one byte over", over), ("10 KB", huge)):
        cases = _indexed_text_calls(t, value, stored.id, skill_of_t)
        for name, make_call, field in cases:
            _refused(harness, t, [(f"{name} {label}", make_call)], naming=field)
    # A key hash over the limit is refused as a malformed hash.
    too_long_hash = "a" * (INDEXED_TEXT_MAX_BYTES + 1)
    _refused(
        harness,
        t,
        [("create_key key_hash", lambda s: s.create_key(t, "n", too_long_hash))],
        naming="key_hash",
    )


def _key_hash_calls(t: str, label: str, bad: str) -> list[tuple[str, Call]]:
    return [
        (f"create_key {label}", lambda s: s.create_key(t, "n", bad)),
        (f"get_key_by_hash {label}", lambda s: s.get_key_by_hash(bad)),
        (f"validate_key {label}", lambda s: s.validate_key(bad)),
    ]


@clause("keys.hash.format")
def test_key_hashes_must_look_like_hash_key(harness: Harness) -> None:
    """A plaintext key, or anything but lowercase hex of 64+ digits, is not a key hash."""
    t = new_tenant()
    store = harness.store
    plaintext, key_hash = generate_key()
    bad_hashes = {
        "a plaintext key": plaintext,
        "not a hash": "not-a-hash",
        "uppercase hex": key_hash.upper(),
        "63 hex digits": key_hash[:63],
        "hex with a space": key_hash[:32] + " " + key_hash[33:],
        "non-ASCII digits": "٣" * 64,
    }
    for label, bad in bad_hashes.items():
        errors = _refused(
            harness,
            t,
            _key_hash_calls(t, label, bad),
            naming="key_hash",
        )
        for error in errors:
            assert "hash_key(" in str(error), f"{label}: no pointer to hash_key(): {error}"
            assert bad not in str(error), f"{label}: the message repeats the value"
            assert plaintext not in repr(error.args)
    # What hash_key makes, and longer lowercase hex digests, are keys.
    for good in (key_hash, hash_key(key_hash) + hash_key(plaintext)):
        key = harness.run(call(store.create_key(t, "n", good)))
        assert harness.run(call(store.validate_key(good))) == key


class _Colour(enum.IntEnum):
    RED = 1


class _EqualsAll(str):
    """A str whose == matches anything: it must not reach another tenant's rows."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


class _Float(float):
    """A float subclass: it would read back as a plain float from SQL backends."""


@clause("input.types.exact")
def test_values_must_be_of_the_exact_types(harness: Harness) -> None:
    """Subclasses, bools for ints and bytes for text are refused, not coerced."""
    t = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(t))))
    stored = harness.run(call(store.create_file(File(tenant_id=t, name="f", s3_key="k"))))
    odd_tenant = _EqualsAll(t)
    base_file = File(tenant_id=t, name="f", s3_key="k")
    cases: list[tuple[str, Call]] = [
        ("list_keys str subclass", lambda s: s.list_keys(odd_tenant)),
        ("get_execution str subclass", lambda s: s.get_execution(odd_tenant, running.id)),
        ("list_keys bytes", lambda s: s.list_keys(t.encode())),  # type: ignore[arg-type]
        ("list_executions limit bool", lambda s: s.list_executions(t, limit=True)),
        ("list_executions limit IntEnum", lambda s: s.list_executions(t, limit=_Colour.RED)),
        ("list_executions offset float", lambda s: s.list_executions(t, offset=1.0)),  # type: ignore[arg-type]
        (
            "create_file size_bytes bool",
            lambda s: s.create_file(base_file.model_copy(update={"size_bytes": True})),
        ),
        (
            "create_file size_bytes str",
            lambda s: s.create_file(base_file.model_copy(update={"size_bytes": "1"})),
        ),
        (
            "update_file version float",
            lambda s: s.update_file(stored.model_copy(update={"version": 2.0})),
        ),
        (
            "create_file name bytes",
            lambda s: s.create_file(base_file.model_copy(update={"name": b"f"})),
        ),
    ]
    for field, value in (
        ("status", []),
        ("status", _EqualsAll("running")),
        ("files_list", ("a", "b")),
        ("files_list", ["a", b"b"]),
        ("duration_ms", _Colour.RED),
        ("logs", 7),
        ("input", _EqualsAll("x")),
        ("input", {"n": _Colour.RED}),
        ("input", [_Float(1.5)]),
        ("input", ("a", "tuple")),
        ("output", {"k": {1, 2}}),
    ):
        for name, make_call in _with_each_writer(t, running.id, **{field: value}):
            if field == "status" and name == "create_execution":
                continue  # create_execution stores `running` whatever status it is given
            cases.append((f"{name} {field}={type(value).__name__}", make_call))
    _refused(harness, t, cases)


FLOATS: Final[list[float]] = [
    1e300,
    1e20,
    1e16,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -0.0,
    0.0,
    1.0,
    0.1,
    -2.5e-300,
    123456789.125,
]


@clause("input.page.offset_max")
def test_the_largest_offset_is_an_empty_page(harness: Harness) -> None:
    """offset=2**63-1 with any limit is [] from both listings; 2**63 is refused."""
    t = new_tenant()
    store = harness.store
    execution = harness.run(call(store.create_execution(_execution(t))))
    session = harness.run(call(store.get_or_create_session(t, "offset-max")))
    harness.run(
        call(
            store.create_file(
                File(
                    tenant_id=t,
                    session_id=session.id,
                    execution_id=execution.id,
                    name="a.txt",
                    s3_key=f"{t}/a.txt",
                    size_bytes=1,
                )
            )
        )
    )
    filters = {
        "all": {},
        "session": {"session_id": session.id},
        "execution": {"execution_id": execution.id},
        "both": {"session_id": session.id, "execution_id": execution.id},
    }
    # Limits below, at and above each listing's clamp: offset + limit passes 2**63 - 1.
    for limit in (1, 100, 200, 10**9):
        for offset in (INT64_MAX - limit + 1, INT64_MAX):
            label = f"limit={limit} offset={offset}"
            listed = harness.run(call(store.list_executions(t, limit=limit, offset=offset)))
            assert listed == [], f"list_executions {label}: {listed}"
            for name, where in filters.items():
                wanted = FileFilter(tenant_id=t, limit=limit, offset=offset, **where)
                files = harness.run(call(store.list_files(wanted)))
                assert files == [], f"list_files ({name}) {label}: {files}"
    _refused(
        harness,
        t,
        [
            ("list_executions offset 2**63", lambda s: s.list_executions(t, offset=2**63)),
            (
                "list_files offset 2**63",
                lambda s: s.list_files(FileFilter(tenant_id=t, offset=2**63)),
            ),
        ],
        naming="offset",
    )


@clause("values.json.same_type")
def test_json_numbers_keep_their_type(harness: Harness) -> None:
    """Floats of any magnitude stay floats and ints stay ints, nested or not."""
    t = new_tenant()
    store = harness.store
    mixed: JsonValue = {
        "floats": list(FLOATS),
        "ints": [0, 1, -1, 10**16, 10**19, 2**63 - 1],
        "nested": [{"f": 1e20, "i": 10**18, "l": [[1e300, 1], {"x": -0.0}]}],
    }
    values: list[JsonValue] = [*FLOATS, 10**18, mixed]
    for value in values:
        stored = harness.run(call(store.create_execution(_execution(t, input=value))))
        finished = harness.run(
            call(
                store.update_execution(
                    stored.model_copy(update={"status": "success", "output": value})
                )
            )
        )
        for label, back in (
            ("returned by update_execution", finished.output),
            ("input read back", harness.run(call(store.get_execution(t, stored.id))).input),
            ("output read back", harness.run(call(store.get_execution(t, stored.id))).output),
        ):
            assert _typed(back) == _typed(value), f"{value!r} {label} as {back!r}"


def _typed(value: object) -> object:
    """``value`` with every number paired with its type, so 1e20 differs from 10**20."""
    if isinstance(value, dict):
        return {key: _typed(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_typed(child) for child in value]
    if isinstance(value, bool | int | float):
        return (type(value).__name__, value)
    return value


# -- Sharper tests of the same clauses, written to kill mutants (EQUIVALENT_MUTANTS.md) ----


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
                if not message_names(field, str(error)):
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
                assert message_names("input", str(error)), error


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
        assert message_names("input", str(error)), error
