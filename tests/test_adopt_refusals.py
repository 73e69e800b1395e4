"""Every refusal rule of the adoption: one test each, each proving nothing changed.

Each case changes a filled Go v0.8.0 database the way the Go schema allows (an operator,
an old bug or a hand edit could have) and expects the refusal to name the offending
row, its table and tenant, and the rule; then the database, schema and rows and
sequences alike, is as it was, and no lock is left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import LiteralString

import psycopg
import pytest
from adopt_helpers import fingerprint, fresh_database, locks_held
from go_schema import GO, build_go_database, fill
from psycopg import sql

from skillbox_store import adopt_go_database
from skillbox_store.adopt import AdoptionRefusedError, Offence

pytestmark = pytest.mark.postgres

ACME_KEY = GO["key_ci"]
ROOT = GO["file_root"]
V2 = GO["file_v2"]
EXEC = GO["exec_done"]
NEW_ID = "0000abcd-0000-4000-8000-000000000999"


# A statement and its parameters.
Change = tuple[sql.SQL | sql.Composed, tuple[object, ...]]


@dataclass(frozen=True)
class Case:
    """A statement that breaks one rule, and the offence the refusal must list."""

    change: Change
    table: str
    id: str
    tenant: str
    rule: str


def _insert(table: str, values: dict[str, object]) -> Change:
    statement = sql.SQL("INSERT INTO sandbox.{} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    return statement, tuple(values.values())


def _key(hash_: str = "d" * 64, tenant: str = "acme", name: str = "k") -> Change:
    return _insert("api_keys", {"id": NEW_ID, "key_hash": hash_, "tenant_id": tenant, "name": name})


def _file(column: str, value: object, *, parent: str | None = None, tenant: str = "acme") -> Change:
    values: dict[str, object] = {
        "id": NEW_ID,
        "tenant_id": tenant,
        "name": "f",
        "s3_key": "k",
        "parent_id": parent,
    }
    values[column] = value
    return _insert("files", values)


def _execution(column: str, value: object) -> Change:
    values: dict[str, object] = {
        "id": NEW_ID,
        "tenant_id": "acme",
        "skill_name": "s",
        "skill_version": "1",
    }
    values[column] = value
    return _insert("executions", values)


def _session(external_id: str) -> Change:
    return _insert("sessions", {"id": NEW_ID, "tenant_id": "acme", "external_id": external_id})


def _skill(name: str, version: str) -> Change:
    return _insert("skills", {"tenant_id": "acme", "name": name, "version": version})


def _sql(text: LiteralString, *params: object) -> Change:
    return sql.SQL(text), params


LONG = "x" * 513
CASES: dict[str, Case] = {
    "tenant empty": Case(_key(tenant=""), "api_keys", NEW_ID, "", "tenant_id is empty"),
    "tenant too long": Case(
        _execution("tenant_id", LONG),
        "executions",
        NEW_ID,
        "x" * 513,
        "tenant_id is longer than 512 bytes",
    ),
    "key hash upper case": Case(
        _sql("UPDATE sandbox.api_keys SET key_hash = upper(key_hash) WHERE id = %s", ACME_KEY),
        "api_keys",
        ACME_KEY,
        "acme",
        "key_hash is not lowercase hex of 64 to 512 characters (what hash_key() returns)",
    ),
    "key hash plaintext": Case(
        _key(hash_="sk-" + "0" * 48),
        "api_keys",
        NEW_ID,
        "acme",
        "key_hash is not lowercase hex of 64 to 512 characters (what hash_key() returns)",
    ),
    "key name empty": Case(_key(name=""), "api_keys", NEW_ID, "acme", "name is empty"),
    "skill_name empty": Case(
        _execution("skill_name", ""), "executions", NEW_ID, "acme", "skill_name is empty"
    ),
    "skill_version too long": Case(
        _execution("skill_version", LONG),
        "executions",
        NEW_ID,
        "acme",
        "skill_version is longer than 512 bytes",
    ),
    "duration negative": Case(
        _execution("duration_ms", -1), "executions", NEW_ID, "acme", "duration_ms is negative"
    ),
    "files_list NULL element": Case(
        _execution("files_list", ["a", None]),
        "executions",
        NEW_ID,
        "acme",
        "files_list holds a NULL element",
    ),
    "files_list two-dimensional": Case(
        _execution("files_list", [["a"], ["b"]]),
        "executions",
        NEW_ID,
        "acme",
        "files_list is not a one-dimensional array",
    ),
    "time infinity": Case(
        _execution("created_at", "infinity"),
        "executions",
        NEW_ID,
        "acme",
        "created_at is not a time of years 1 to 9999",
    ),
    "time past 9999": Case(
        _sql("UPDATE sandbox.api_keys SET revoked_at = '10000-01-01' WHERE id = %s", ACME_KEY),
        "api_keys",
        ACME_KEY,
        "acme",
        "revoked_at is not a time of years 1 to 9999",
    ),
    "time before year 1": Case(
        _sql(
            "UPDATE sandbox.sessions SET last_accessed_at = '0001-06-01 BC' WHERE id = %s",
            GO["session_chat"],
        ),
        "sessions",
        GO["session_chat"],
        "acme",
        "last_accessed_at is not a time of years 1 to 9999",
    ),
    "json too deep": Case(
        _execution("input", "[" * 65 + "]" * 65),
        "executions",
        NEW_ID,
        "acme",
        "input nests lists and objects more than 64 deep",
    ),
    "json integer beyond 64 bits": Case(
        _execution("output", '{"n": 18446744073709551616}'),
        "executions",
        NEW_ID,
        "acme",
        "output must be JSON with 64-bit integers: a 65-bit integer is outside "
        "-9223372036854775808 to 18446744073709551615",
    ),
    "json over a million values": Case(
        _execution("input", "[" + ",".join(["0"] * 1_000_000) + "]"),
        "executions",
        NEW_ID,
        "acme",
        "input holds more than 1,000,000 JSON values (counted as written out: a list or "
        "object used twice counts twice)",
    ),
    "file name empty": Case(_file("name", ""), "files", NEW_ID, "acme", "name is empty"),
    "file name too long": Case(
        _file("name", LONG), "files", NEW_ID, "acme", "name is longer than 512 bytes"
    ),
    "s3_key empty": Case(_file("s3_key", ""), "files", NEW_ID, "acme", "s3_key is empty"),
    "size negative": Case(
        _file("size_bytes", -5), "files", NEW_ID, "acme", "size_bytes is negative"
    ),
    "version below 1": Case(_file("version", 0), "files", NEW_ID, "acme", "version is below 1"),
    "session id not a uuid": Case(
        _file("session_id", "chat-1"),
        "files",
        NEW_ID,
        "acme",
        "session_id is neither empty nor a UUID in 8-4-4-4-12 form",
    ),
    "parent in another tenant": Case(
        _file("version", 7, parent=ROOT, tenant="globex"),
        "files",
        NEW_ID,
        "globex",
        "parent_id names another tenant's file",
    ),
    "execution in another tenant": Case(
        _file("execution_id", GO["exec_globex"]),
        "files",
        NEW_ID,
        "acme",
        "execution_id names another tenant's execution",
    ),
    "version not above parent": Case(
        _file("version", 1, parent=V2),
        "files",
        NEW_ID,
        "acme",
        "version is not above its parent's version",
    ),
    "version repeated in chain": Case(
        # Go's repeated PUT of version 2 of the chain: another child of the root.
        _file("version", 2, parent=ROOT),
        "files",
        NEW_ID,
        "acme",
        "version is repeated in its chain",
    ),
    "chain without root": Case(
        _sql(
            "UPDATE sandbox.files SET parent_id = %s, version = 4 WHERE id = %s",
            GO["file_v3"],
            ROOT,
        ),
        "files",
        ROOT,
        "acme",
        "version chain has no root (parent_id runs in a cycle)",
    ),
    "external id empty": Case(
        _session(""),
        "sessions",
        NEW_ID,
        "acme",
        "external_id is empty",
    ),
    "external id too long": Case(
        _session(LONG),
        "sessions",
        NEW_ID,
        "acme",
        "external_id is longer than 512 bytes",
    ),
    "skill name empty": Case(
        _skill("", "1"),
        "skills",
        "@1",
        "acme",
        "name is empty",
    ),
    "skill version too long": Case(
        _skill("s", LONG),
        "skills",
        "s@" + "x" * 513,
        "acme",
        "version is longer than 512 bytes",
    ),
    "column added by hand": Case(
        _sql("ALTER TABLE sandbox.files ADD COLUMN checksum text"),
        "schema sandbox",
        "",
        "",
        "column files.checksum (text) is not in the v0.8.0 schema",
    ),
    "column type changed": Case(
        _sql("ALTER TABLE sandbox.files ALTER COLUMN name TYPE varchar(600)"),
        "schema sandbox",
        "",
        "",
        "column files.name is character varying(600) NOT NULL; v0.8.0 has text NOT NULL",
    ),
    "constraint dropped": Case(
        _sql("ALTER TABLE sandbox.files DROP CONSTRAINT files_parent_id_fkey"),
        "schema sandbox",
        "",
        "",
        "foreign key constraint files_parent_id_fkey on files is missing",
    ),
    "table added by hand": Case(
        _sql("CREATE TABLE sandbox.audit (id int)"),
        "schema sandbox",
        "",
        "",
        "table audit is not a v0.8.0 Go table",
    ),
    "goose versions incomplete": Case(
        _sql("INSERT INTO public.goose_db_version (version_id, is_applied) VALUES (6, false)"),
        "schema sandbox",
        "",
        "",
        "applied goose versions are 1, 2, 3, 4, 5; adoption needs exactly 1-6 (v0.8.x) or "
        "1-7: finish the Go migrations first",
    ),
    "backup schema exists": Case(
        _sql("CREATE SCHEMA sandbox_go_v6"),
        "schema sandbox_go_v6",
        "",
        "",
        "the backup schema already exists; drop it or name another with backup_schema= "
        "(--backup-schema)",
    ),
}


@pytest.fixture(scope="module")
def server(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def go_url(server: str) -> Iterator[str]:
    with fresh_database(server) as url:
        build_go_database(url)
        fill(url)
        yield url


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_rule_refuses_and_changes_nothing(go_url: str, name: str) -> None:
    case = CASES[name]
    with psycopg.connect(go_url, autocommit=True) as conn:
        conn.execute(*case.change)
    before = fingerprint(go_url)
    expected = Offence(case.table, case.id, case.tenant, case.rule)
    # The dry run says the same, exit aside.
    dry = asyncio.run(adopt_go_database(go_url, dry_run=True))
    assert dry.outcome == "refused"
    assert expected in dry.offences, dry.offences
    with pytest.raises(AdoptionRefusedError) as caught:
        asyncio.run(adopt_go_database(go_url))
    assert expected in caught.value.report.offences
    assert fingerprint(go_url) == before
    assert locks_held(go_url) == []


def test_every_offence_is_listed_at_once(go_url: str) -> None:
    chosen = [
        "key hash upper case",
        "files_list NULL element",
        "version repeated in chain",
        "external id empty",
        "table added by hand",
        "backup schema exists",
    ]
    with psycopg.connect(go_url, autocommit=True) as conn:
        for index, name in enumerate(chosen):
            # The cases insert the same new id: give each its own.
            fresh = f"0000abcd-0000-4000-8000-{index:012d}"
            statement, params = CASES[name].change
            conn.execute(statement, tuple(fresh if p == NEW_ID else p for p in params))
    before = fingerprint(go_url)
    with pytest.raises(AdoptionRefusedError) as caught:
        asyncio.run(adopt_go_database(go_url))
    # A table added by hand does not stop the row checks: both kinds are listed.
    assert {offence.rule for offence in caught.value.report.offences} == {
        CASES[name].rule for name in chosen
    }
    assert fingerprint(go_url) == before


def test_every_row_offence_is_listed_at_once(go_url: str) -> None:
    with psycopg.connect(go_url, autocommit=True) as conn:
        conn.execute("UPDATE sandbox.api_keys SET key_hash = upper(key_hash)")
        conn.execute("UPDATE sandbox.executions SET duration_ms = -1")
        conn.execute("UPDATE sandbox.sessions SET external_id = ''")
    before = fingerprint(go_url)
    with pytest.raises(AdoptionRefusedError) as caught:
        asyncio.run(adopt_go_database(go_url))
    offences = caught.value.report.offences
    assert sorted((o.table, o.id) for o in offences) == sorted(
        [("api_keys", GO[k]) for k in ("key_ci", "key_old", "key_globex")]
        + [
            ("executions", GO[k])
            for k in ("exec_done", "exec_running", "exec_failed", "exec_globex")
        ]
        + [("sessions", GO[k]) for k in ("session_chat", "session_globex")]
    )
    assert "9 problem(s)" in str(caught.value)
    assert fingerprint(go_url) == before
