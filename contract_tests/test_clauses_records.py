"""Targeted tests for docs/contract.md, "Records and values".

`test_roundtrip.py` proves ``records.ids.uuid`` and ``records.empty.kept``, and
`test_records_not_shared.py` proves ``records.in.unchanged`` and ``records.out.detached``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from pydantic import JsonValue

from skillbox_store import (
    Execution,
    File,
    FileFilter,
    NotFoundError,
    SkillRecord,
)

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises

_LONG_AGO = datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC)


def _execution(tenant: str, **fields: object) -> Execution:
    return Execution.model_validate(
        {"tenant_id": tenant, "skill_name": "s", "skill_version": "1", **fields}
    )


@clause("records.ids.store_chosen")
def test_ids_and_creation_times_passed_in_are_ignored(harness: Harness) -> None:
    """An id and created_at in the record passed in are replaced by the store's."""
    tenant = new_tenant()
    store = harness.store
    given_id = str(uuid.uuid4())
    created = [
        harness.run(
            call(store.create_execution(_execution(tenant, id=given_id, created_at=_LONG_AGO)))
        ),
        harness.run(
            call(store.insert_execution(_execution(tenant, id=given_id, created_at=_LONG_AGO)))
        ),
    ]
    file = File(
        tenant_id=tenant,
        name="f",
        s3_key="k",
        id=given_id,
        created_at=_LONG_AGO,
        updated_at=_LONG_AGO,
    )
    stored_file = harness.run(call(store.create_file(file)))
    chosen = [(e.id, e.created_at) for e in created] + [(stored_file.id, stored_file.created_at)]
    for record_id, created_at in chosen:
        assert record_id != given_id
        assert created_at != _LONG_AGO
    assert stored_file.updated_at != _LONG_AGO
    assert created[0].id != created[1].id
    harness.run(raises(NotFoundError, store.get_execution(tenant, given_id)))
    harness.run(raises(NotFoundError, store.get_file(tenant, given_id)))


@clause("records.times.utc")
def test_store_times_are_aware_utc_and_read_back_equal(harness: Harness) -> None:
    """Every store-chosen time is UTC-aware and reads back equal, to the microsecond."""
    tenant = new_tenant()
    store = harness.store
    key = harness.run(call(store.create_key(tenant, "k", new_key_hash())))
    revoked = harness.run(call(store.revoke_key(tenant, key.id)))
    execution = harness.run(call(store.create_execution(_execution(tenant))))
    file = harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))))
    session = harness.run(call(store.get_or_create_session(tenant, "x")))
    skill = harness.run(
        call(store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1")))
    )
    stamps = [
        revoked.created_at,
        revoked.revoked_at,
        execution.created_at,
        file.created_at,
        file.updated_at,
        session.created_at,
        session.last_accessed_at,
        skill.uploaded_at,
    ]
    for stamp in stamps:
        assert stamp is not None
        assert stamp.utcoffset() == timedelta(0), stamp
    assert harness.run(call(store.get_key_by_hash(key.key_hash))) == revoked
    assert harness.run(call(store.get_execution(tenant, execution.id))) == execution
    assert harness.run(call(store.get_file(tenant, file.id))) == file
    assert harness.run(call(store.get_session(tenant, session.id))) == session
    assert harness.run(call(store.get_skill(tenant, "s", "1"))) == skill
    read_back = [
        harness.run(call(store.list_keys(tenant)))[0].revoked_at,
        harness.run(call(store.list_executions(tenant)))[0].created_at,
        harness.run(call(store.list_files(FileFilter(tenant_id=tenant))))[0].updated_at,
        harness.run(call(store.list_skills(tenant)))[0].uploaded_at,
    ]
    assert read_back == [
        revoked.revoked_at,
        execution.created_at,
        file.updated_at,
        skill.uploaded_at,
    ]


@clause("records.times.instant")
def test_caller_times_keep_the_instant(harness: Harness) -> None:
    """finished_at in any offset reads back as the same instant, in UTC, to the microsecond."""
    tenant = new_tenant()
    store = harness.store
    offsets = [timedelta(hours=-7, minutes=-30), timedelta(hours=5, minutes=45), timedelta(0)]
    for offset, micro in zip(offsets, (999_999, 1, 500_000), strict=True):
        sent = datetime(2024, 2, 29, 23, 59, 59, micro, tzinfo=timezone(offset))
        stored = harness.run(
            call(store.insert_execution(_execution(tenant, status="success", finished_at=sent)))
        )
        got = harness.run(call(store.get_execution(tenant, stored.id)))
        for finished_at in (stored.finished_at, got.finished_at):
            assert finished_at == sent, (sent, finished_at)
            assert finished_at is not None
            assert finished_at.utcoffset() == timedelta(0), finished_at


_TEXTS = [
    "  spaces both ends  ",
    "MiXeD case",
    "e\u0301 (decomposed)",
    "\u00e9 (composed)",
    "日本語 ✓ 🚀",
    "مرحبا",
    "tab\tnew\nline\r",
    "\U0010fffd",
]


@clause("records.text.exact")
def test_text_reads_back_exactly(harness: Harness) -> None:
    """No trimming, case folding or Unicode normalization, in any kind of record."""
    tenant = new_tenant()
    store = harness.store
    sessions = {}
    for text in _TEXTS:
        key = harness.run(call(store.create_key(tenant, text, new_key_hash())))
        assert harness.run(call(store.get_key_by_hash(key.key_hash))).name == text
        execution = harness.run(
            call(store.create_execution(_execution(tenant, skill_name=text, logs=text)))
        )
        got = harness.run(call(store.get_execution(tenant, execution.id)))
        assert (got.skill_name, got.logs) == (text, text)
        file = harness.run(call(store.create_file(File(tenant_id=tenant, name=text, s3_key=text))))
        assert harness.run(call(store.get_file(tenant, file.id))).name == text
        skill = SkillRecord(tenant_id=tenant, name=text, version=text, description=text)
        harness.run(call(store.upsert_skill(skill)))
        assert harness.run(call(store.get_skill(tenant, text, text))).description == text
        sessions[text] = harness.run(call(store.get_or_create_session(tenant, text))).id
    # Composed and decomposed "é" are different external ids, not one session.
    assert len(set(sessions.values())) == len(_TEXTS)
    for text, session_id in sessions.items():
        assert harness.run(call(store.get_session_by_external_id(tenant, text))).id == session_id


def _typed(value: JsonValue) -> object:
    """The value with the type of every scalar made visible (1 == 1.0 == True otherwise)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


@clause("records.json.values")
def test_json_values_keep_value_and_type(harness: Harness) -> None:
    """Objects, arrays, strings, ints, floats, booleans and None read back the same type."""
    tenant = new_tenant()
    store = harness.store
    document: JsonValue = {
        "float": 1.0,
        "int": 1,
        "big": 2**53 + 1,
        "neg": -0.5,
        "tiny": 1e-300,
        "true": True,
        "zero": 0,
        "none": None,
        "text": "x",
        "nested": [[], {}, [1, 2.0, "3", False]],
    }
    values: list[JsonValue] = [document, [1.0, 1, True], 2.0, 7, "text", False, None]
    for value in values:
        stored = harness.run(
            call(store.insert_execution(_execution(tenant, input=value, output=value)))
        )
        got = harness.run(call(store.get_execution(tenant, stored.id)))
        assert _typed(got.input) == _typed(value), (value, got.input)
        assert _typed(got.output) == _typed(value), (value, got.output)
        listed = harness.run(call(store.list_executions(tenant, limit=1)))[0]
        assert _typed(listed.output) == _typed(value)


@clause("records.json.go")
def test_execution_dumps_as_go_json(harness: Harness) -> None:
    """execution_id, error always present, empty fields left out, RFC 3339 times in Z."""
    tenant = new_tenant()
    store = harness.store
    running = harness.run(call(store.create_execution(_execution(tenant))))
    data = harness.run(call(store.get_execution(tenant, running.id))).model_dump(
        mode="json", by_alias=True
    )
    assert data["execution_id"] == running.id
    assert "id" not in data
    assert data["error"] is None
    for omitted in ("input", "output", "logs", "files_url", "files_list", "finished_at"):
        assert omitted not in data, omitted
    assert data["created_at"].endswith("Z")
    assert datetime.fromisoformat(data["created_at"]) == running.created_at
    finished = running.model_copy(
        update={
            "status": "success",
            "output": {"ok": True},
            "logs": "l",
            "files_list": ["a"],
            "finished_at": datetime(2030, 1, 1, tzinfo=UTC),
        }
    )
    harness.run(call(store.update_execution(finished)))
    data = harness.run(call(store.get_execution(tenant, running.id))).model_dump(
        mode="json", by_alias=True
    )
    assert (data["output"], data["logs"], data["files_list"]) == ({"ok": True}, "l", ["a"])
    assert data["finished_at"] == "2030-01-01T00:00:00Z"


# -- Sharper tests of the same clauses, written to kill mutants (EQUIVALENT_MUTANTS.md) ----


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
