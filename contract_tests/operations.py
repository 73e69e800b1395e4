"""The actions of the stateful test: each acts on the store AND the model, and notes it.

An operation draws its arguments from the model's current state, predicts the outcome
(a record, or the error the contract demands), calls the store, checks the result and
updates the model. The same operations run on the store itself and, inside a
transaction, on the transaction's store with a scratch model, so that a transaction
can be checked by adopting or dropping the scratch model.

Records are drawn from lists in creation order, which a replay reproduces, never from
orderings of store-chosen ids (random on every run) or of sets.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from hypothesis import note
from hypothesis import strategies as st

from skillbox_store import (
    AlreadyExistsError,
    AlreadyFinishedError,
    AlreadyRevokedError,
    ConflictError,
    Execution,
    File,
    NotFoundError,
    SkillRecord,
    Store,
)

from .harness import call, new_key_hash, raises
from .model import Model, Row
from .strategies import (
    STATUSES,
    aware_datetimes,
    json_values,
    optional_text,
    required_text,
    text,
)

__all__ = [
    "EXTERNAL_IDS",
    "SAFE_OPERATIONS",
    "SKILL_NAMES",
    "SKILL_VERSIONS",
    "Context",
    "Operation",
]

T = TypeVar("T")

# Small pools, shared by the tenants, so that the same external id or skill name is
# used by two tenants and isolation is put to the test.
EXTERNAL_IDS: Final = ("ext-a", "ext-b", "ext-é")
SKILL_NAMES: Final = ("B", "Z", "_x", "a", "b", "é")
SKILL_VERSIONS: Final = ("1.0", "1.10", "1.9", "2")

# A timestamp the store must never keep: it sets uploaded_at itself.
_LONG_AGO: Final = datetime(2000, 1, 1, tzinfo=UTC)


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _aware(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() is not None


@dataclass
class Context:
    """Where an operation acts: a store, the model it must match, and a source of draws.

    ``safe`` asks for operations that must succeed: a transaction's block runs only
    those, so that what it commits or rolls back is known.
    """

    store: Store
    model: Model
    data: st.DataObject
    safe: bool = False

    def draw(self, strategy: st.SearchStrategy[T], label: str) -> T:
        """Draw a value, labelled in the failure report."""
        return self.data.draw(strategy, label=label)

    def choose(self, options: list[T], label: str) -> T:
        """Draw one of ``options`` (a list in creation order, so replays choose alike)."""
        return self.data.draw(st.sampled_from(options), label=label)

    def tenant(self) -> str:
        """Draw one of the run's tenants."""
        return self.choose(list(self.model.tenants), "tenant")

    def other_tenant(self, tenant: str) -> str:
        """Draw a tenant other than ``tenant``."""
        return self.choose([t for t in self.model.tenants if t != tenant], "other tenant")


Operation = Callable[[Context], Awaitable[None]]


# -- API keys ---------------------------------------------------------------------------


async def create_key(ctx: Context) -> None:
    """A new key; its hash is unique across every run."""
    tenant = ctx.tenant()
    name = ctx.draw(required_text, "name")
    key_hash = new_key_hash()
    key = await call(ctx.store.create_key(tenant, name, key_hash))
    note(f"create_key({tenant!r}, {name!r}) -> {key.id}")
    assert _is_uuid(key.id), key.id
    assert _aware(key.created_at)
    assert (key.tenant_id, key.name, key.key_hash, key.revoked_at) == (tenant, name, key_hash, None)
    ctx.model[tenant].keys[key.id] = key.model_dump()


async def create_duplicate_key(ctx: Context) -> None:
    """A key whose hash any tenant already has: AlreadyExistsError, nothing written."""
    keys = ctx.model.all_keys()
    if not keys:
        return
    existing = ctx.choose(keys, "existing key")
    tenant = ctx.tenant()
    note(f"create_key({tenant!r}, hash of {existing['id']}) -> AlreadyExistsError")
    await raises(AlreadyExistsError, ctx.store.create_key(tenant, "dup", existing["key_hash"]))


async def revoke_key(ctx: Context) -> None:
    """Revoke a key as its owner (once) or as another tenant (NotFoundError)."""
    keys = ctx.model.all_keys()
    if ctx.safe:
        keys = [k for k in keys if k["revoked_at"] is None]
    if not keys:
        return
    key = ctx.choose(keys, "key")
    owner = key["tenant_id"]
    tenant = owner if ctx.safe else ctx.tenant()
    if tenant != owner:
        note(f"revoke_key({tenant!r}, {key['id']}) of {owner!r} -> NotFoundError")
        await raises(NotFoundError, ctx.store.revoke_key(tenant, key["id"]))
    elif key["revoked_at"] is not None:
        note(f"revoke_key({tenant!r}, {key['id']}) again -> AlreadyRevokedError")
        await raises(AlreadyRevokedError, ctx.store.revoke_key(tenant, key["id"]))
    else:
        revoked = await call(ctx.store.revoke_key(tenant, key["id"]))
        note(f"revoke_key({tenant!r}, {key['id']}) -> revoked at {revoked.revoked_at}")
        assert revoked.revoked_at is not None
        assert _aware(revoked.revoked_at)
        assert revoked.revoked_at >= key["created_at"]
        assert revoked.model_dump() == {**key, "revoked_at": revoked.revoked_at}
        ctx.model[owner].keys[key["id"]] = revoked.model_dump()


# -- Executions -------------------------------------------------------------------------


def _outcome(ctx: Context) -> dict[str, Any]:
    """The fields update_execution writes (insert_execution stores them too)."""
    return {
        "status": ctx.choose(STATUSES, "status"),
        "output": ctx.draw(json_values, "output"),
        "logs": ctx.draw(text, "logs"),
        "files_url": ctx.draw(text, "files_url"),
        "files_list": ctx.draw(st.lists(text, max_size=3), "files_list"),
        "duration_ms": ctx.draw(st.integers(min_value=0, max_value=2**40), "duration_ms"),
        "error": ctx.draw(optional_text, "error"),
        "finished_at": ctx.draw(st.none() | aware_datetimes, "finished_at"),
    }


async def add_execution(ctx: Context) -> None:
    """create_execution (status forced to running) or insert_execution (status kept)."""
    tenant = ctx.tenant()
    keep_status = ctx.draw(st.booleans(), "insert (keep status)")
    fields = {
        "tenant_id": tenant,
        "skill_name": ctx.draw(required_text, "skill_name"),
        "skill_version": ctx.draw(required_text, "skill_version"),
        "input": ctx.draw(json_values, "input"),
        **_outcome(ctx),
    }
    sent = Execution(**fields)
    method = ctx.store.insert_execution if keep_status else ctx.store.create_execution
    stored = await call(method(sent))
    note(f"{'insert' if keep_status else 'create'}_execution({tenant!r}) -> {stored.id}")
    assert _is_uuid(stored.id), stored.id
    assert _aware(stored.created_at)
    status = sent.status if keep_status else "running"
    expected = {**sent.model_dump(), "status": status}
    expected.update(id=stored.id, created_at=stored.created_at)
    assert stored.model_dump() == expected
    ctx.model[tenant].executions[stored.id] = stored.model_dump()


async def update_execution(ctx: Context) -> None:
    """Finish an execution: once only, and only as its tenant."""
    executions = ctx.model.all_executions()
    if ctx.safe:
        executions = [e for e in executions if e["status"] == "running"]
    if not executions:
        return
    old = ctx.choose(executions, "execution")
    owner = old["tenant_id"]
    tenant = owner if ctx.safe else ctx.tenant()
    outcome = _outcome(ctx)
    # Fields outside the outcome differ on purpose: update_execution must not write them.
    sent = Execution(
        id=old["id"], tenant_id=tenant, skill_name="not-written", skill_version="0", **outcome
    )
    if tenant != owner:
        note(f"update_execution({tenant!r}, {old['id']}) of {owner!r} -> NotFoundError")
        await raises(NotFoundError, ctx.store.update_execution(sent))
    elif old["status"] != "running":
        note(f"update_execution({tenant!r}, {old['id']}) finished -> AlreadyFinishedError")
        await raises(AlreadyFinishedError, ctx.store.update_execution(sent))
    else:
        stored = await call(ctx.store.update_execution(sent))
        note(f"update_execution({tenant!r}, {old['id']}) -> {stored.status}")
        assert stored.model_dump() == {**old, **outcome}
        ctx.model[owner].executions[old["id"]] = stored.model_dump()
        if stored.status != "running" and not ctx.safe and ctx.draw(st.booleans(), "again"):
            # Finishing twice in a row is the race the contract closes; try it directly.
            note(f"update_execution({tenant!r}, {old['id']}) again -> AlreadyFinishedError")
            await raises(AlreadyFinishedError, ctx.store.update_execution(sent))


# -- Files ------------------------------------------------------------------------------


def _file_fields(ctx: Context) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": ctx.draw(required_text, "name"),
        "size_bytes": ctx.draw(st.integers(min_value=0, max_value=2**40), "size_bytes"),
        "s3_key": ctx.draw(required_text, "s3_key"),
    }
    content_type = ctx.draw(st.none() | text, "content_type")
    if content_type is not None:
        fields["content_type"] = content_type
    return fields


async def create_file(ctx: Context) -> None:
    """A new file: a chain's first, or a child of a file, with references to check."""
    tenant = ctx.tenant()
    tm = ctx.model[tenant]
    fields = {"tenant_id": tenant, **_file_fields(ctx)}
    expected_error: type[Exception] | None = None
    sessions = [s["id"] for s in tm.sessions.values()]
    session = ctx.draw(st.sampled_from([None, "random", *sessions]), "session")
    # The contract makes no reference of session_id: any UUID is kept as given.
    fields["session_id"] = str(uuid.uuid4()) if session == "random" else session
    executions = list(tm.executions) + ([] if ctx.safe else ["other tenant's"])
    execution = ctx.draw(st.sampled_from([None, *executions]), "execution")
    if execution == "other tenant's":
        others = [e["id"] for e in ctx.model.all_executions() if e["tenant_id"] != tenant]
        execution = ctx.choose(others, "other tenant's execution") if others else None
        expected_error = NotFoundError if execution else None
    fields["execution_id"] = execution
    files = list(tm.files) + ([] if ctx.safe else ["other tenant's"])
    parent = ctx.draw(st.sampled_from([None, *files]), "parent")
    if parent == "other tenant's":
        others = [f["id"] for f in ctx.model.all_files() if f["tenant_id"] != tenant]
        parent = ctx.choose(others, "other tenant's file") if others else None
        expected_error = NotFoundError if parent else expected_error
        fields["version"] = ctx.draw(st.integers(min_value=1, max_value=9), "version")
    elif parent is None:
        fields["version"] = ctx.draw(st.integers(min_value=1, max_value=3), "version")
    else:
        used = {f["version"] for f in ctx.model.chain(tenant, parent)}
        floor = tm.files[parent]["version"]
        free = [v for v in range(floor + 1, max(used) + 3) if v not in used]
        # With a NotFoundError already due, a conflicting version would make the
        # expected error ambiguous (the contract orders no checks): stay in the free ones.
        if ctx.safe or expected_error is not None:
            choices = free
        else:
            choices = sorted({*free, *used, *range(1, floor + 1)})
        fields["version"] = ctx.choose(choices, "version")
        if fields["version"] not in free and expected_error is None:
            expected_error = ConflictError
    fields["parent_id"] = parent
    sent = File(**fields)
    if expected_error is not None:
        note(f"create_file({fields}) -> {expected_error.__name__}")
        await raises(expected_error, ctx.store.create_file(sent))
        return
    stored = await call(ctx.store.create_file(sent))
    note(f"create_file({tenant!r}, parent={parent}, version={sent.version}) -> {stored.id}")
    assert _is_uuid(stored.id), stored.id
    assert _aware(stored.created_at)
    assert _aware(stored.updated_at)
    assert stored.updated_at >= stored.created_at
    expected = {**sent.model_dump(), "id": stored.id}
    expected.update(created_at=stored.created_at, updated_at=stored.updated_at)
    assert stored.model_dump() == expected
    tm.files[stored.id] = stored.model_dump()


async def append_versions(ctx: Context) -> None:
    """Append one to three versions to a chain, through any of its members."""
    files = ctx.model.all_files()
    if not files:
        return
    member = ctx.choose(files, "chain member")
    # Long chains are where following parent_id one level (the Go bug) goes wrong, so
    # grow them faster than one version per step.
    for _ in range(ctx.draw(st.integers(min_value=1, max_value=3), "versions")):
        await create_file_version(ctx, member)
        chain = ctx.model.chain(member["tenant_id"], member["id"])
        member = ctx.choose(chain, "next member")


async def create_file_version(ctx: Context, member: Row) -> None:
    """Append a version to the chain of ``member`` (as another tenant: NotFoundError)."""
    owner = member["tenant_id"]
    tenant = owner if ctx.safe else ctx.tenant()
    name = ctx.draw(st.none() | required_text, "name")
    content_type = ctx.draw(st.none() | text, "content_type")
    size_bytes = ctx.draw(st.integers(min_value=0, max_value=2**40), "size_bytes")
    s3_key = ctx.draw(required_text, "s3_key")
    new_version = ctx.store.create_file_version(
        tenant,
        member["id"],
        name=name,
        content_type=content_type,
        size_bytes=size_bytes,
        s3_key=s3_key,
    )
    if tenant != owner:
        note(f"create_file_version({tenant!r}, {member['id']}) of {owner!r} -> NotFoundError")
        await raises(NotFoundError, new_version)
        return
    head = ctx.model.chain(owner, member["id"])[0]
    stored = await call(new_version)
    note(f"create_file_version({tenant!r}, {member['id']}) -> v{stored.version} {stored.id}")
    assert _is_uuid(stored.id), stored.id
    assert stored.updated_at >= stored.created_at
    expected = {
        **head,
        "id": stored.id,
        "name": head["name"] if name is None else name,
        "content_type": head["content_type"] if content_type is None else content_type,
        "size_bytes": size_bytes,
        "s3_key": s3_key,
        "version": head["version"] + 1,
        "parent_id": head["id"],
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }
    assert stored.model_dump() == expected
    ctx.model[owner].files[stored.id] = stored.model_dump()


async def update_file(ctx: Context) -> None:
    """Rewrite a file's fields and maybe its version, keeping its chain ordered."""
    files = ctx.model.all_files()
    if not files:
        return
    old = ctx.choose(files, "file")
    owner = old["tenant_id"]
    tenant = owner if ctx.safe else ctx.tenant()
    if ctx.safe:
        version = old["version"]
    else:
        top = max(f["version"] for f in ctx.model.chain(owner, old["id"]))
        version = ctx.draw(st.integers(min_value=1, max_value=top + 2), "version")
    fields = _file_fields(ctx)
    # session_id, execution_id and parent_id are not written by update_file: sending
    # None for them checks that the stored ones stay.
    sent = File(id=old["id"], tenant_id=tenant, version=version, **fields)
    if tenant != owner:
        note(f"update_file({tenant!r}, {old['id']}) of {owner!r} -> NotFoundError")
        await raises(NotFoundError, ctx.store.update_file(sent))
        return
    if ctx.model.version_conflicts(owner, old["id"], version):
        note(f"update_file({tenant!r}, {old['id']}, v{old['version']}->v{version}) -> Conflict")
        await raises(ConflictError, ctx.store.update_file(sent))
        return
    stored = await call(ctx.store.update_file(sent))
    note(f"update_file({tenant!r}, {old['id']}, v{old['version']}->v{version})")
    assert stored.updated_at >= old["updated_at"]
    expected = {
        **old,
        "content_type": sent.content_type,
        **fields,
        "version": version,
        "updated_at": stored.updated_at,
    }
    assert stored.model_dump() == expected
    ctx.model[owner].files[old["id"]] = stored.model_dump()


async def delete_file(ctx: Context) -> None:
    """Delete a file: refused while a later version names it as parent."""
    files = ctx.model.all_files()
    if ctx.safe:
        files = [f for f in files if not ctx.model.children(f["tenant_id"], f["id"])]
    if not files:
        return
    file = ctx.choose(files, "file")
    owner = file["tenant_id"]
    tenant = owner if ctx.safe else ctx.tenant()
    if tenant != owner:
        note(f"delete_file({tenant!r}, {file['id']}) of {owner!r} -> NotFoundError")
        await raises(NotFoundError, ctx.store.delete_file(tenant, file["id"]))
    elif ctx.model.children(owner, file["id"]):
        note(f"delete_file({tenant!r}, {file['id']}) with children -> ConflictError")
        await raises(ConflictError, ctx.store.delete_file(tenant, file["id"]))
    else:
        note(f"delete_file({tenant!r}, {file['id']})")
        await call(ctx.store.delete_file(tenant, file["id"]))
        del ctx.model[owner].files[file["id"]]


# -- Sessions ---------------------------------------------------------------------------


async def get_or_create_session(ctx: Context) -> None:
    """The tenant's session for an external id: the same one each time, accessed now."""
    tenant = ctx.tenant()
    external_id = ctx.choose(list(EXTERNAL_IDS), "external id")
    old = ctx.model[tenant].sessions.get(external_id)
    session = await call(ctx.store.get_or_create_session(tenant, external_id))
    note(f"get_or_create_session({tenant!r}, {external_id!r}) -> {session.id}")
    assert (session.tenant_id, session.external_id) == (tenant, external_id)
    assert session.last_accessed_at >= session.created_at
    if old is None:
        assert _is_uuid(session.id), session.id
    else:
        assert session.last_accessed_at >= old["last_accessed_at"]
        assert session.model_dump() == {**old, "last_accessed_at": session.last_accessed_at}
    ctx.model[tenant].sessions[external_id] = session.model_dump()


async def touch_session(ctx: Context) -> None:
    """Bump a session's last access, as its tenant (another tenant: NotFoundError)."""
    sessions = ctx.model.all_sessions()
    if not sessions:
        return
    old = ctx.choose(sessions, "session")
    owner = old["tenant_id"]
    tenant = owner if ctx.safe else ctx.tenant()
    if tenant != owner:
        note(f"touch_session({tenant!r}, {old['id']}) of {owner!r} -> NotFoundError")
        await raises(NotFoundError, ctx.store.touch_session(tenant, old["id"]))
        return
    session = await call(ctx.store.touch_session(tenant, old["id"]))
    note(f"touch_session({tenant!r}, {old['id']})")
    assert session.last_accessed_at >= old["last_accessed_at"]
    assert session.model_dump() == {**old, "last_accessed_at": session.last_accessed_at}
    ctx.model[owner].sessions[old["external_id"]] = session.model_dump()


async def delete_session(ctx: Context) -> None:
    """Delete a session by external id; its files stay."""
    tenant = ctx.tenant()
    tm = ctx.model[tenant]
    present = list(tm.sessions) if ctx.safe else list(EXTERNAL_IDS)
    if not present:
        return
    external_id = ctx.choose(present, "external id")
    if external_id not in tm.sessions:
        note(f"delete_session({tenant!r}, {external_id!r}) absent -> NotFoundError")
        await raises(NotFoundError, ctx.store.delete_session(tenant, external_id))
        return
    note(f"delete_session({tenant!r}, {external_id!r})")
    await call(ctx.store.delete_session(tenant, external_id))
    del tm.sessions[external_id]


# -- Skills -----------------------------------------------------------------------------


async def upsert_skill(ctx: Context) -> None:
    """Insert or update a skill version; either way it becomes the latest upload."""
    tenant = ctx.tenant()
    tm = ctx.model[tenant]
    name = ctx.choose(list(SKILL_NAMES), "skill name")
    version = ctx.choose(list(SKILL_VERSIONS), "skill version")
    sent = SkillRecord(
        tenant_id=tenant,
        name=name,
        version=version,
        description=ctx.draw(text, "description"),
        lang=ctx.draw(text, "lang"),
        uploaded_at=_LONG_AGO,
    )
    old = tm.skills.get((name, version))
    stored = await call(ctx.store.upsert_skill(sent))
    note(f"upsert_skill({tenant!r}, {name!r}, {version!r}) {'update' if old else 'insert'}")
    assert stored.uploaded_at != _LONG_AGO, "upsert_skill kept the caller's uploaded_at"
    assert _aware(stored.uploaded_at)
    if old is not None:
        assert stored.uploaded_at >= old["uploaded_at"]
    assert stored.model_dump() == {**sent.model_dump(), "uploaded_at": stored.uploaded_at}
    ctx.model.upload_counter += 1
    tm.skills[(name, version)] = stored.model_dump()
    tm.uploads[(name, version)] = ctx.model.upload_counter


async def delete_skill(ctx: Context) -> None:
    """Delete a skill version, present or not (no error either way)."""
    tenant = ctx.tenant()
    tm = ctx.model[tenant]
    name = ctx.choose(list(SKILL_NAMES), "skill name")
    version = ctx.choose(list(SKILL_VERSIONS), "skill version")
    note(f"delete_skill({tenant!r}, {name!r}, {version!r})")
    await call(ctx.store.delete_skill(tenant, name, version))
    tm.skills.pop((name, version), None)
    tm.uploads.pop((name, version), None)


# -- Reads across tenants ---------------------------------------------------------------


async def read_as_other_tenant(ctx: Context) -> None:
    """Another tenant's record behaves exactly like a missing one."""
    records: list[tuple[str, Row]] = [
        *(("execution", e) for e in ctx.model.all_executions()),
        *(("file", f) for f in ctx.model.all_files()),
        *(("session", s) for s in ctx.model.all_sessions()),
    ]
    if not records:
        return
    kind, record = ctx.choose(records, "record")
    tenant = ctx.other_tenant(record["tenant_id"])
    note(f"read {kind} {record['id']} of {record['tenant_id']!r} as {tenant!r}")
    store = ctx.store
    if kind == "execution":
        await raises(NotFoundError, store.get_execution(tenant, record["id"]))
    elif kind == "file":
        await raises(NotFoundError, store.get_file(tenant, record["id"]))
        assert await call(store.list_file_versions(tenant, record["id"])) == []
    else:
        await raises(NotFoundError, store.get_session(tenant, record["id"]))
        mine = [
            f for f in reversed(ctx.model[tenant].files.values()) if f["session_id"] == record["id"]
        ]
        listed = await call(store.list_session_files(tenant, record["id"]))
        assert [f.model_dump() for f in listed] == mine


SAFE_OPERATIONS: Final[tuple[Operation, ...]] = (
    create_key,
    revoke_key,
    add_execution,
    update_execution,
    create_file,
    append_versions,
    update_file,
    delete_file,
    get_or_create_session,
    touch_session,
    delete_session,
    upsert_skill,
    delete_skill,
)
"""Operations that, with ``Context.safe``, only make calls that must succeed."""
