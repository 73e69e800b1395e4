"""The refusal rules: everything is checked before anything changes, every offence named.

Three kinds, all collected before the verdict: the database (its goose versions, its
shape against the v0.8.0 catalog, newer releases' data), the backup schema's name, and
the rows that the Go schema accepts and this store's contract refuses. Many of those
pass the new schema's constraints silently (empty text, bad key hashes, out-of-range
times and integers), so they cannot be left to the constraints.
"""

from __future__ import annotations

import json
from typing import Any, Final

from psycopg import AsyncConnection, sql

from skillbox_store.adopt import statements as q
from skillbox_store.adopt.detect import GoDatabase
from skillbox_store.adopt.report import Offence
from skillbox_store.errors import InvalidArgumentError

__all__ = ["EXPECTED_COLUMNS", "EXPECTED_CONSTRAINTS", "check_database", "check_rows"]

Row = tuple[Any, ...]

_TS: Final = "timestamp with time zone"
# The v0.8.0 catalog (GO_SCHEMA.md): (column, type, NOT NULL) per table.
EXPECTED_COLUMNS: Final[dict[str, frozenset[tuple[str, str, bool]]]] = {
    "api_keys": frozenset(
        {
            ("id", "uuid", True),
            ("key_hash", "text", True),
            ("tenant_id", "text", True),
            ("name", "text", True),
            ("created_at", _TS, True),
            ("revoked_at", _TS, False),
        }
    ),
    "executions": frozenset(
        {
            ("id", "uuid", True),
            ("skill_name", "text", True),
            ("skill_version", "text", True),
            ("tenant_id", "text", True),
            ("status", "text", True),
            ("input", "jsonb", False),
            ("output", "jsonb", False),
            ("logs", "text", False),
            ("files_url", "text", False),
            ("files_list", "text[]", False),
            ("duration_ms", "bigint", False),
            ("error", "text", False),
            ("created_at", _TS, True),
            ("finished_at", _TS, False),
        }
    ),
    "skills": frozenset(
        {
            ("tenant_id", "text", True),
            ("name", "text", True),
            ("version", "text", True),
            ("description", "text", True),
            ("lang", "text", True),
            ("uploaded_at", _TS, True),
        }
    ),
    "files": frozenset(
        {
            ("id", "uuid", True),
            ("tenant_id", "text", True),
            ("session_id", "text", False),
            ("execution_id", "uuid", False),
            ("name", "text", True),
            ("content_type", "text", True),
            ("size_bytes", "bigint", True),
            ("s3_key", "text", True),
            ("version", "integer", True),
            ("parent_id", "uuid", False),
            ("created_at", _TS, True),
            ("updated_at", _TS, True),
        }
    ),
    "sessions": frozenset(
        {
            ("id", "uuid", True),
            ("tenant_id", "text", True),
            ("external_id", "text", True),
            ("created_at", _TS, True),
            ("last_accessed_at", _TS, True),
        }
    ),
}
# (name, kind) per table; kinds as pg_constraint.contype: p, u, c, f.
EXPECTED_CONSTRAINTS: Final[dict[str, frozenset[tuple[str, str]]]] = {
    "api_keys": frozenset({("api_keys_pkey", "p"), ("api_keys_key_hash_key", "u")}),
    "executions": frozenset({("executions_pkey", "p"), ("executions_status_check", "c")}),
    "skills": frozenset({("skills_pkey", "p")}),
    "files": frozenset(
        {
            ("files_pkey", "p"),
            ("files_execution_id_fkey", "f"),
            ("files_parent_id_fkey", "f"),
        }
    ),
    "sessions": frozenset({("sessions_pkey", "p"), ("sessions_tenant_id_external_id_key", "u")}),
}
_KINDS: Final = {"p": "primary key", "u": "unique", "c": "check", "f": "foreign key"}


def _schema_offence(schema: str, rule: str) -> Offence:
    return Offence(table=f"schema {schema}", id="", tenant_id="", rule=rule)


async def _shape(conn: AsyncConnection[Row], go: GoDatabase) -> tuple[list[Offence], bool]:
    """Compare columns, types, nullability and constraints with the v0.8.0 catalog.

    Returns the differences, and whether every v0.8.0 column is there as it was, so
    that the row rules, which name those columns, can still run and be reported too.
    """
    found: list[Offence] = []
    columns_intact = True
    cursor = await conn.execute(q.SELECT_COLUMNS, (go.schema,))
    columns: dict[str, set[tuple[str, str, bool]]] = {}
    for table, column, kind, not_null in await cursor.fetchall():
        columns.setdefault(str(table), set()).add((str(column), str(kind), bool(not_null)))
    # goose's own table sits in the Go schema when the Go DSN's search_path put it there.
    own = set(go.goose_tables) if go.goose_schema == go.schema else set()
    for table in sorted(set(columns) - set(EXPECTED_COLUMNS) - own):
        found.append(_schema_offence(go.schema, f"table {table} is not a v0.8.0 Go table"))
    for table, expected in EXPECTED_COLUMNS.items():
        have = columns.get(table, set())
        by_name = {c[0]: c for c in expected}
        for name, kind, not_null in sorted(have - expected):
            want = by_name.get(name)
            if want is None:
                rule = f"column {table}.{name} ({kind}) is not in the v0.8.0 schema"
            else:
                columns_intact = False
                rule = (
                    f"column {table}.{name} is {kind}{' NOT NULL' if not_null else ''}; "
                    f"v0.8.0 has {want[1]}{' NOT NULL' if want[2] else ''}"
                )
            found.append(_schema_offence(go.schema, rule))
        have_names = {c[0] for c in have}
        for name, kind, _ in sorted(expected):
            if name not in have_names:
                columns_intact = False
                found.append(
                    _schema_offence(go.schema, f"column {table}.{name} ({kind}) is missing")
                )
    cursor = await conn.execute(q.SELECT_CONSTRAINTS, (go.schema,))
    constraints: dict[str, set[tuple[str, str]]] = {}
    for table, name, kind in await cursor.fetchall():
        if str(kind) in _KINDS:
            constraints.setdefault(str(table), set()).add((str(name), str(kind)))
    for table, expected_set in EXPECTED_CONSTRAINTS.items():
        have_set = constraints.get(table, set())
        for name, kind in sorted(have_set - expected_set):
            found.append(
                _schema_offence(
                    go.schema, f"{_KINDS[kind]} constraint {name} on {table} is not in v0.8.0"
                )
            )
        for name, kind in sorted(expected_set - have_set):
            found.append(
                _schema_offence(
                    go.schema, f"{_KINDS[kind]} constraint {name} on {table} is missing"
                )
            )
    return found, columns_intact


async def _head_data(conn: AsyncConnection[Row], go: GoDatabase) -> list[Offence]:
    """What a newer Go release (goose 8+) stores that this schema would silently lose."""
    found: list[Offence] = []
    cursor = await conn.execute(q.SELECT_COLUMNS, (go.schema,))
    columns = {(str(t), str(c)) for t, c, _, _ in await cursor.fetchall()}
    tables = {t for t, _ in columns}
    for table in q.HEAD_TABLES:
        if table not in tables:
            continue
        cursor = await conn.execute(q.compose(q.SELECT_TABLE_ROWS, go=go.schema, table=table))
        row = await cursor.fetchone()
        count = 0 if row is None else int(row[0])
        if count:
            found.append(
                Offence(
                    table,
                    "",
                    "",
                    f"{count} row(s) of a newer Go release (users, groups, approvals, "
                    "scanner settings, blocked skills) would be lost",
                )
            )
    for table, column, condition, loss in q.HEAD_COLUMNS:
        if (table, column) not in columns:
            continue
        template = q.SELECT_HEAD_KEY_ROWS if table == "api_keys" else q.SELECT_HEAD_SKILL_ROWS
        # The condition is one of the constants above, never input.
        statement = sql.SQL(template.replace("{condition}", condition)).format(
            go=sql.Identifier(go.schema)
        )
        cursor = await conn.execute(statement)
        found.extend(
            Offence(table, str(row_id), str(tenant), f"{column}: {loss}")
            for row_id, tenant in await cursor.fetchall()
        )
    return found


async def check_database(
    conn: AsyncConnection[Row], go: GoDatabase, backup_schema: str
) -> tuple[list[Offence], bool]:
    """Refusals about the database as a whole: versions, shape, newer data, backup name.

    Returns them, and whether the rows can be checked next: only when every v0.8.0
    column is there as it was, since the row rules name them.
    """
    found: list[Offence] = []
    cursor = await conn.execute(q.SELECT_SCHEMA_EXISTS, (backup_schema,))
    if await cursor.fetchone() is not None:
        found.append(
            _schema_offence(
                backup_schema,
                "the backup schema already exists; drop it or name another with "
                "backup_schema= (--backup-schema)",
            )
        )
    if go.version >= 8:
        found.append(
            _schema_offence(
                go.schema,
                f"goose version {go.version} is a Go release newer than v0.8.x (versions "
                "8 and later add users, approvals, service keys and skill states this "
                "store has no place for); only goose 1-6 or 1-7 are adopted",
            )
        )
        found.extend(await _head_data(conn, go))
        return found, False
    if not go.accepted:
        shown = ", ".join(map(str, go.versions)) or "none"
        found.append(
            _schema_offence(
                go.schema,
                f"applied goose versions are {shown}; adoption needs exactly 1-6 (v0.8.x) "
                "or 1-7: finish the Go migrations first",
            )
        )
    drift, columns_intact = await _shape(conn, go)
    return found + drift, columns_intact


_ROW_CHECKS: Final = (
    ("api_keys", q.SELECT_KEY_OFFENCES),
    ("executions", q.SELECT_EXECUTION_OFFENCES),
    ("files", q.SELECT_FILE_OFFENCES),
    ("sessions", q.SELECT_SESSION_OFFENCES),
    ("skills", q.SELECT_SKILL_OFFENCES),
)


def _json_offences(row_id: str, tenant: str, field: str, text: str | None) -> list[Offence]:
    """Check one JSON value with the store's own validation, as the store would on write."""
    # Imported here: validation needs the record classes (SQLModel), which detection
    # and the migrator's hook do not.
    from skillbox_store.validation import _check_json

    if text is None:
        return []
    try:
        _check_json(field, json.loads(text))
    except InvalidArgumentError as exc:
        return [Offence("executions", row_id, tenant, str(exc))]
    except (ValueError, RecursionError):
        # Past Python's 4,300-digit int limit or its recursion limit: past the
        # contract's limits too.
        return [
            Offence("executions", row_id, tenant, f"{field} is JSON beyond the contract's limits")
        ]
    return []


async def check_rows(conn: AsyncConnection[Row], go: GoDatabase) -> list[Offence]:
    """Every row the contract refuses, each with every rule it breaks, in table order."""
    found: list[Offence] = []
    for table, template in _ROW_CHECKS:
        cursor = await conn.execute(q.compose(template, go=go.schema))
        for row_id, tenant, rules in await cursor.fetchall():
            found.extend(Offence(table, str(row_id), str(tenant), str(rule)) for rule in rules)
        if table == "executions":
            cursor = await conn.execute(q.compose(q.SELECT_JSON_CANDIDATES, go=go.schema))
            for row_id, tenant, input_text, output_text in await cursor.fetchall():
                found.extend(_json_offences(str(row_id), str(tenant), "input", input_text))
                found.extend(_json_offences(str(row_id), str(tenant), "output", output_text))
    return found
