"""Capability ``bulk``: `StoreBulk`, streaming and writing records as they were.

The rules are docs/contract.md's, section "Optional capabilities".

Runs on every target that declares ``bulk``; elsewhere it is skipped and reported as
such at the end of the run (see `contract_tests.plugin.require_capability`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

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

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises
from .plugin import RequireCapability

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


def _file(tenant: str, version: int = 1, parent: File | None = None) -> File:
    return File(
        id=_id(),
        tenant_id=tenant,
        name="f",
        s3_key=_id(),
        version=version,
        parent_id=None if parent is None else parent.id,
        created_at=_T0,
        updated_at=_T0,
    )


@clause("capabilities.bulk.insert_as_given")
def test_bulk_inserted_files_join_their_own_chains(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """Two chains in one batch stay apart; a later batch's file joins its stored parent's."""
    bulk = _bulk(require_capability)
    store: Store = harness.store
    tenant = new_tenant()
    first, second = _file(tenant), _file(tenant)
    harness.run(call(bulk.bulk_insert("files", tenant, [first, second])))
    heads = [_file(tenant, 2, first), _file(tenant, 2, second)]
    harness.run(call(bulk.bulk_insert("files", tenant, heads)))
    assert harness.run(call(store.list_file_versions(tenant, first.id))) == [heads[0], first]
    assert harness.run(call(store.list_file_versions(tenant, second.id))) == [heads[1], second]


@clause("capabilities.bulk.insert_batch_unique")
def test_bulk_insert_refuses_a_key_repeated_in_the_batch(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """A batch repeating an id, hash, external id, name and version or chain version is refused."""
    bulk = _bulk(require_capability)
    store: Store = harness.store
    tenant = new_tenant()
    records = _records(tenant)
    key = records["api_keys"][0]
    execution = records["executions"][1]
    session = records["sessions"][0]
    skill = records["skills"][0]
    root = _file(tenant)
    batches: list[tuple[str, list[BulkRecord]]] = [
        ("api_keys", [key, key.model_copy(update={"key_hash": new_key_hash()})]),
        ("api_keys", [key, key.model_copy(update={"id": _id()})]),
        ("executions", [execution, execution.model_copy(update={"status": "failed"})]),
        ("sessions", [session, session.model_copy(update={"external_id": "other"})]),
        ("sessions", [session, session.model_copy(update={"id": _id()})]),
        ("skills", [skill, skill.model_copy(update={"description": "again"})]),
        ("files", [root, _file(tenant, 2, root), _file(tenant, 2, root)]),
    ]
    for table, batch in batches:
        harness.run(raises(ConflictError, bulk.bulk_insert(table, tenant, batch)))
    assert harness.run(call(store.list_keys(tenant))) == []
    assert harness.run(call(store.list_executions(tenant))) == []
    assert harness.run(call(store.list_skills(tenant))) == []
    assert harness.run(call(store.list_files(FileFilter(tenant_id=tenant)))) == []
    found = harness.run(call(bulk.bulk_find("sessions", tenant, [session])))
    assert found == [None]


@clause("capabilities.bulk.insert_atomic")
def test_bulk_insert_refuses_a_version_its_chain_has(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """A file taking a version its stored chain already has is ConflictError, batch and all."""
    bulk = _bulk(require_capability)
    store: Store = harness.store
    tenant = new_tenant()
    root = _file(tenant)
    harness.run(call(bulk.bulk_insert("files", tenant, [root])))
    fresh = _file(tenant)
    harness.run(
        raises(ConflictError, bulk.bulk_insert("files", tenant, [fresh, _file(tenant, 1, root)]))
    )
    assert harness.run(call(store.list_files(FileFilter(tenant_id=tenant)))) == [root]


@clause("capabilities.bulk.insert_as_given")
def test_bulk_inserted_records_serve_every_read(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """Keys are found by hash, later uploads are newer, and the store keeps its own copies."""
    bulk = _bulk(require_capability)
    store: Store = harness.store
    tenant = new_tenant()
    records = _records(tenant)
    for version in ("a", "b", "c"):
        skill = SkillRecord(tenant_id=tenant, name="t", version=version)
        harness.run(call(store.upsert_skill(skill)))
    harness.run(_insert_all(bulk, tenant, records))
    key = records["api_keys"][1]
    assert isinstance(key, APIKey)
    assert harness.run(call(store.get_key_by_hash(key.key_hash))) == key
    harness.run(call(store.upsert_skill(SkillRecord(tenant_id=tenant, name="t", version="d"))))
    assert harness.run(call(store.resolve_latest_version(tenant, "t"))) == "d"
    given = records["executions"][0]
    assert isinstance(given, Execution)
    assert isinstance(given.input, dict)
    listed = given.input["a"]
    assert isinstance(listed, list)
    listed.append("changed")
    stored = harness.run(call(store.get_execution(tenant, given.id)))
    assert stored.input == {"b": 1, "a": [1.5, None]}


@clause("capabilities.bulk.find")
def test_bulk_find_hands_out_copies(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """Changing a record bulk_find returned changes nothing stored."""
    bulk = _bulk(require_capability)
    tenant = new_tenant()
    records = _records(tenant)
    harness.run(_insert_all(bulk, tenant, records))
    found = harness.run(call(bulk.bulk_find("executions", tenant, records["executions"][:1])))
    assert isinstance(found[0], Execution)
    assert isinstance(found[0].input, dict)
    listed = found[0].input["a"]
    assert isinstance(listed, list)
    listed.append("changed")
    again = harness.run(call(bulk.bulk_find("executions", tenant, records["executions"][:1])))
    assert again == records["executions"][:1]


@clause("capabilities.bulk.stream")
def test_snapshot_streams_only_the_tenants_asked_and_sessions_by_id(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """records() with tenant_ids yields only theirs; sessions come by id, not insertion."""
    bulk = _bulk(require_capability)
    tenant, other = new_tenant(), new_tenant()
    harness.run(_insert_all(bulk, other, _records(other)))
    ids = sorted(_id() for _ in range(3))[::-1]
    sessions: list[BulkRecord] = [
        Session(id=i, tenant_id=tenant, external_id=i, created_at=_T0, last_accessed_at=_T0)
        for i in ids
    ]
    harness.run(call(bulk.bulk_insert("sessions", tenant, sessions)))

    async def read() -> list[BulkRecord]:
        async with bulk.bulk_snapshot() as reader:
            return [r async for batch in reader.records("sessions", [tenant]) for r in batch]

    assert harness.run(read()) == sessions[::-1]


# -- Sharper tests of the same clauses, written to kill mutants (EQUIVALENT_MUTANTS.md) ----


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
