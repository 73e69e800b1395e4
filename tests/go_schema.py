"""A Go Skillbox database for the adoption tests, written from ../shared/spec/GO_SCHEMA.md.

`GO_MIGRATIONS` is the DDL of the Go project's goose migrations 001-007 as that page
states them (tables, column types, defaults, constraint and index names), `HEAD_DDL`
enough of 008-012 to hold a newer release's data, and `build_go_database` runs them on
a fresh database with goose's version table in either layout. `DATA` fills it the way
the Go API writes: NULLs where Go leaves them, star-shaped version chains (every
version's parent is the root), a file whose session was deleted, one external id in
two tenants, skills re-uploaded out of version order, ties. `GO` holds the ids.
"""

from __future__ import annotations

from typing import Final, Literal

import psycopg
from psycopg import sql

__all__ = [
    "DATA",
    "GO",
    "GO_MIGRATIONS",
    "HEAD_DDL",
    "build_go_database",
    "fill",
]

GO_MIGRATIONS: Final[dict[int, str]] = {
    1: """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE {schema}.api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key_hash text NOT NULL UNIQUE,
    tenant_id text NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX idx_api_keys_hash ON {schema}.api_keys (key_hash);
CREATE INDEX idx_api_keys_tenant ON {schema}.api_keys (tenant_id);
CREATE TABLE {schema}.executions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    skill_name text NOT NULL,
    skill_version text NOT NULL,
    tenant_id text NOT NULL,
    status text NOT NULL DEFAULT 'running',
    input jsonb,
    output jsonb,
    logs text,
    files_url text,
    files_list text[],
    duration_ms bigint,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX idx_executions_tenant ON {schema}.executions (tenant_id);
CREATE INDEX idx_executions_status ON {schema}.executions (status);
""",
    2: """
CREATE TABLE {schema}.skills (
    tenant_id text NOT NULL,
    name text NOT NULL,
    version text NOT NULL,
    description text NOT NULL DEFAULT '',
    lang text NOT NULL DEFAULT 'python',
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name, version)
);
CREATE INDEX idx_skills_tenant ON {schema}.skills (tenant_id);
CREATE INDEX idx_skills_name ON {schema}.skills (tenant_id, name);
""",
    3: """
ALTER TABLE {schema}.executions ADD CONSTRAINT executions_status_check
    CHECK (status IN ('running', 'success', 'failed', 'timeout'));
""",
    4: """
CREATE INDEX idx_skills_latest_version ON {schema}.skills (tenant_id, name, version DESC);
""",
    5: """
CREATE TABLE {schema}.files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id text NOT NULL,
    session_id text,
    execution_id uuid REFERENCES {schema}.executions (id),
    name text NOT NULL,
    content_type text NOT NULL DEFAULT 'application/octet-stream',
    size_bytes bigint NOT NULL DEFAULT 0,
    s3_key text NOT NULL,
    version integer NOT NULL DEFAULT 1,
    parent_id uuid REFERENCES {schema}.files (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_files_tenant ON {schema}.files (tenant_id);
CREATE INDEX idx_files_execution ON {schema}.files (execution_id);
CREATE INDEX idx_files_session ON {schema}.files (session_id);
CREATE INDEX idx_files_parent ON {schema}.files (parent_id);
""",
    6: """
CREATE TABLE {schema}.sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id text NOT NULL,
    external_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_accessed_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, external_id)
);
CREATE INDEX idx_sessions_tenant ON {schema}.sessions (tenant_id);
CREATE INDEX idx_sessions_external ON {schema}.sessions (tenant_id, external_id);
""",
    7: """
ALTER TABLE {schema}.executions DROP CONSTRAINT executions_status_check;
ALTER TABLE {schema}.executions ADD CONSTRAINT executions_status_check
    CHECK (status IN ('running', 'success', 'failed', 'timeout', 'mounted'));
""",
}

# Enough of goose 8-12 (v0.12.x) to hold what a newer release stores.
HEAD_DDL: Final[dict[int, str]] = {
    8: """
CREATE TABLE {schema}.users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text NOT NULL);
CREATE TABLE {schema}.groups (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL);
CREATE TABLE {schema}.user_groups (user_id uuid NOT NULL, group_id uuid NOT NULL);
CREATE TABLE {schema}.invite_codes (code text PRIMARY KEY);
CREATE TABLE {schema}.approval_requests (id uuid PRIMARY KEY DEFAULT gen_random_uuid());
CREATE TABLE {schema}.tenant_approved_skills (tenant_id text NOT NULL, name text NOT NULL);
""",
    9: "ALTER TABLE {schema}.approval_requests ADD COLUMN scope text NOT NULL DEFAULT '';",
    10: """
ALTER TABLE {schema}.skills ADD COLUMN status text NOT NULL DEFAULT 'available';
ALTER TABLE {schema}.skills ADD COLUMN scan_result jsonb;
ALTER TABLE {schema}.skills ADD COLUMN scanned_at timestamptz;
ALTER TABLE {schema}.skills ADD COLUMN reviewed_by text NOT NULL DEFAULT '';
ALTER TABLE {schema}.skills ADD COLUMN reviewed_at timestamptz;
CREATE TABLE {schema}.scanner_config (key text PRIMARY KEY, value text NOT NULL);
""",
    11: "ALTER TABLE {schema}.api_keys ADD COLUMN user_id text NOT NULL DEFAULT '';",
    12: """
ALTER TABLE {schema}.api_keys ADD COLUMN is_service boolean NOT NULL DEFAULT false;
UPDATE {schema}.api_keys SET is_service = true WHERE revoked_at IS NULL;
""",
}

GooseLayout = Literal["goose", "legacy"]

_GOOSE: Final = """
CREATE TABLE {goose}.goose_db_version (
    id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
    version_id bigint NOT NULL,
    is_applied boolean NOT NULL,
    tstamp timestamp NOT NULL DEFAULT now()
);
"""
_LEGACY_GOOSE: Final = """
CREATE TABLE {goose}.goose_db_version (
    id serial PRIMARY KEY,
    version_id bigint NOT NULL,
    is_applied boolean NOT NULL,
    tstamp timestamp DEFAULT now()
);
CREATE TABLE {goose}.sandbox_migrations (
    filename text PRIMARY KEY,
    applied_at timestamptz NOT NULL
);
INSERT INTO {goose}.sandbox_migrations VALUES
    ('001_initial.sql', '2023-01-01T00:00:00Z'),
    ('002_skills_metadata.sql', '2023-02-01T00:00:00Z'),
    ('003_execution_status_check.sql', '2023-03-01T00:00:00Z');
"""


def _run(conn: psycopg.Connection[tuple[object, ...]], text: str, **schemas: str) -> None:
    names = {key: sql.Identifier(value) for key, value in schemas.items()}
    conn.execute(sql.SQL(text).format(**names))


def build_go_database(
    url: str,
    *,
    version: int = 6,
    schema: str = "sandbox",
    goose_schema: str = "public",
    layout: GooseLayout = "goose",
) -> None:
    """Run the Go migrations 1..``version`` on ``url`` and record them as goose does."""
    with psycopg.connect(url, autocommit=True) as conn:
        _run(conn, "CREATE SCHEMA IF NOT EXISTS {goose}", goose=goose_schema)
        _run(conn, _LEGACY_GOOSE if layout == "legacy" else _GOOSE, goose=goose_schema)
        insert = sql.SQL(
            "INSERT INTO {}.goose_db_version (version_id, is_applied) VALUES (%s, true)"
        ).format(sql.Identifier(goose_schema))
        conn.execute(insert, (0,))
        for number in range(1, version + 1):
            text = GO_MIGRATIONS.get(number) or HEAD_DDL[number]
            _run(conn, text, schema=schema)
            conn.execute(insert, (number,))


def _uuid(n: int) -> str:
    # Hex letters too: an upper-cased id must differ from the canonical one.
    return f"0000abcd-0000-4000-8000-{n:012d}"


# The ids of the data set, by role.
GO: Final = {
    "key_ci": _uuid(101),
    "key_old": _uuid(102),
    "key_globex": _uuid(103),
    "exec_done": _uuid(201),
    "exec_running": _uuid(202),
    "exec_failed": _uuid(203),
    "exec_globex": _uuid(204),
    "session_chat": _uuid(301),
    "session_globex": _uuid(302),
    "session_deleted": _uuid(303),
    "file_root": _uuid(401),
    "file_v2": _uuid(402),
    "file_v3": _uuid(403),
    "file_orphan": _uuid(404),
    "file_blank_session": _uuid(405),
    "file_no_session": _uuid(406),
    "file_globex": _uuid(407),
}
HASH_CI: Final = "a" * 64
HASH_OLD: Final = "b" * 64
HASH_GLOBEX: Final = "0123456789abcdef" * 8

# Rows as the Go API writes them; None is SQL NULL.
DATA: Final[dict[str, list[dict[str, object]]]] = {
    "api_keys": [
        {
            "id": GO["key_ci"],
            "key_hash": HASH_CI,
            "tenant_id": "acme",
            "name": "ci",
            "created_at": "2024-01-01T10:00:00.123456Z",
            "revoked_at": None,
        },
        {
            "id": GO["key_old"],
            "key_hash": HASH_OLD,
            "tenant_id": "acme",
            "name": "old",
            "created_at": "2024-01-02T10:00:00Z",
            "revoked_at": "2024-02-01T00:00:00Z",
        },
        # The same created_at as key_ci: seq breaks the tie by id.
        {
            "id": GO["key_globex"],
            "key_hash": HASH_GLOBEX,
            "tenant_id": "globex",
            "name": "deploy",
            "created_at": "2024-01-01T10:00:00.123456Z",
            "revoked_at": None,
        },
    ],
    "executions": [
        {
            "id": GO["exec_done"],
            "skill_name": "web-scraper",
            "skill_version": "1.0.0",
            "tenant_id": "acme",
            "status": "success",
            "input": '{"url": "https://example.com", "n": 3, "deep": {"a": [1, 2.5, null, true]}}',
            "output": '{"ok": true, "big": 18446744073709551615}',
            "logs": "line 1\nline 2",
            "files_url": "s3://bucket/acme/",
            "files_list": ["a.txt", "b.txt"],
            "duration_ms": 1234,
            "error": None,
            "created_at": "2024-03-01T09:00:00Z",
            "finished_at": "2024-03-01T09:00:01.234Z",
        },
        # Everything Go leaves NULL while an execution runs.
        {
            "id": GO["exec_running"],
            "skill_name": "web-scraper",
            "skill_version": "1.5.0",
            "tenant_id": "acme",
            "status": "running",
            "input": None,
            "output": None,
            "logs": None,
            "files_url": None,
            "files_list": None,
            "duration_ms": None,
            "error": None,
            "created_at": "2024-03-02T09:00:00Z",
            "finished_at": None,
        },
        {
            "id": GO["exec_failed"],
            "skill_name": "tie",
            "skill_version": "2.0.0",
            "tenant_id": "acme",
            "status": "failed",
            "input": '[1, "two", 3.0, "ünï"]',
            "output": None,
            "logs": "",
            "files_url": "",
            "files_list": [],
            "duration_ms": 0,
            "error": "boom",
            "created_at": "2024-03-03T09:00:00Z",
            "finished_at": "2024-03-03T09:00:00Z",
        },
        {
            "id": GO["exec_globex"],
            "skill_name": "web-scraper",
            "skill_version": "0.0.0",
            "tenant_id": "globex",
            "status": "timeout",
            "input": '"just a string"',
            "output": None,
            "logs": "killed",
            "files_url": None,
            "files_list": ["x"],
            "duration_ms": 60000,
            "error": "timed out",
            "created_at": "2024-03-01T09:00:00Z",
            "finished_at": "2024-03-01T09:01:00Z",
        },
    ],
    "sessions": [
        {
            "id": GO["session_chat"],
            "tenant_id": "acme",
            "external_id": "chat-1",
            "created_at": "2024-03-01T08:00:00Z",
            "last_accessed_at": "2024-03-05T08:00:00Z",
        },
        # The same external id in another tenant.
        {
            "id": GO["session_globex"],
            "tenant_id": "globex",
            "external_id": "chat-1",
            "created_at": "2024-03-01T08:00:00Z",
            "last_accessed_at": "2024-03-01T08:00:00Z",
        },
    ],
    "files": [
        # A three-deep chain written the Go way: every version's parent is the root.
        {
            "id": GO["file_root"],
            "tenant_id": "acme",
            "session_id": GO["session_chat"],
            "execution_id": GO["exec_done"],
            "name": "report.pdf",
            "content_type": "application/pdf",
            "size_bytes": 100,
            "s3_key": "acme/report/1",
            "version": 1,
            "parent_id": None,
            "created_at": "2024-03-01T09:00:02Z",
            "updated_at": "2024-03-01T09:00:02Z",
        },
        {
            "id": GO["file_v2"],
            "tenant_id": "acme",
            "session_id": GO["session_chat"],
            "execution_id": GO["exec_done"],
            "name": "report.pdf",
            "content_type": "application/pdf",
            "size_bytes": 200,
            "s3_key": "acme/report/2",
            "version": 2,
            "parent_id": GO["file_root"],
            "created_at": "2024-03-02T09:00:02Z",
            "updated_at": "2024-03-02T09:00:02Z",
        },
        {
            "id": GO["file_v3"],
            "tenant_id": "acme",
            "session_id": GO["session_chat"],
            "execution_id": GO["exec_done"],
            "name": "report.pdf",
            "content_type": "application/pdf",
            "size_bytes": 300,
            "s3_key": "acme/report/3",
            "version": 3,
            "parent_id": GO["file_root"],
            "created_at": "2024-03-03T09:00:02Z",
            "updated_at": "2024-03-04T09:00:02Z",
        },
        # Its session was deleted afterwards (Go keeps the files).
        {
            "id": GO["file_orphan"],
            "tenant_id": "acme",
            "session_id": GO["session_deleted"],
            "execution_id": None,
            "name": "notes.txt",
            "content_type": "application/octet-stream",
            "size_bytes": 0,
            "s3_key": "acme/notes",
            "version": 1,
            "parent_id": None,
            "created_at": "2024-03-04T09:00:00Z",
            "updated_at": "2024-03-04T09:00:00Z",
        },
        {
            "id": GO["file_blank_session"],
            "tenant_id": "acme",
            "session_id": "",
            "execution_id": None,
            "name": "blank.bin",
            "content_type": "application/octet-stream",
            "size_bytes": 5,
            "s3_key": "acme/blank",
            "version": 1,
            "parent_id": None,
            "created_at": "2024-03-05T09:00:00Z",
            "updated_at": "2024-03-05T09:00:00Z",
        },
        {
            "id": GO["file_no_session"],
            "tenant_id": "acme",
            "session_id": None,
            "execution_id": GO["exec_failed"],
            "name": "trace.log",
            "content_type": "text/plain",
            "size_bytes": 9_000_000_000,
            "s3_key": "acme/trace",
            "version": 1,
            "parent_id": None,
            "created_at": "2024-03-05T09:00:00Z",
            "updated_at": "2024-03-05T09:00:00Z",
        },
        # An upper-case session id: adoption stores the canonical uuid.
        {
            "id": GO["file_globex"],
            "tenant_id": "globex",
            "session_id": GO["session_globex"].upper(),
            "execution_id": GO["exec_globex"],
            "name": "data.csv",
            "content_type": "text/csv",
            "size_bytes": 42,
            "s3_key": "globex/data",
            "version": 1,
            "parent_id": None,
            "created_at": "2024-03-01T09:00:30Z",
            "updated_at": "2024-03-01T09:00:30Z",
        },
    ],
    "skills": [
        # Re-uploaded out of version order: 1.5.0 is the newest upload, so the latest.
        {
            "tenant_id": "acme",
            "name": "web-scraper",
            "version": "1.0.0",
            "description": "scrapes",
            "lang": "python",
            "uploaded_at": "2024-01-01T00:00:00Z",
        },
        {
            "tenant_id": "acme",
            "name": "web-scraper",
            "version": "2.0.0",
            "description": "scrapes more",
            "lang": "python",
            "uploaded_at": "2024-01-02T00:00:00Z",
        },
        {
            "tenant_id": "acme",
            "name": "web-scraper",
            "version": "1.5.0",
            "description": "",
            "lang": "python",
            "uploaded_at": "2024-01-03T00:00:00Z",
        },
        {
            "tenant_id": "acme",
            "name": "Web-Scraper",
            "version": "1.0.0",
            "description": "capitalised",
            "lang": "node",
            "uploaded_at": "2024-01-01T00:00:00Z",
        },
        # Two uploads at one instant: a tie, reported; the higher version wins.
        {
            "tenant_id": "acme",
            "name": "tie",
            "version": "10.0.0",
            "description": "",
            "lang": "python",
            "uploaded_at": "2024-02-01T00:00:00Z",
        },
        {
            "tenant_id": "acme",
            "name": "tie",
            "version": "9.0.0",
            "description": "",
            "lang": "python",
            "uploaded_at": "2024-02-01T00:00:00Z",
        },
        {
            "tenant_id": "globex",
            "name": "web-scraper",
            "version": "0.0.0",
            "description": "old",
            "lang": "python",
            "uploaded_at": "2023-12-01T00:00:00Z",
        },
    ],
}


def insert_rows(
    url: str, table: str, rows: list[dict[str, object]], schema: str = "sandbox"
) -> None:
    """Insert ``rows`` into the Go table as the Go API would (one INSERT each)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for row in rows:
            statement = sql.SQL("INSERT INTO {}.{} ({}) VALUES ({})").format(
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.SQL(", ").join(map(sql.Identifier, row)),
                sql.SQL(", ").join(sql.Placeholder() * len(row)),
            )
            conn.execute(statement, tuple(row.values()))


def fill(url: str, schema: str = "sandbox") -> None:
    """Insert `DATA` (parents before children), then delete one session as Go does."""
    for table in ("api_keys", "executions", "sessions", "files", "skills"):
        insert_rows(url, table, DATA[table], schema)
    insert_rows(
        url,
        "sessions",
        [{"id": GO["session_deleted"], "tenant_id": "acme", "external_id": "gone"}],
        schema,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DELETE FROM {}.sessions WHERE id = %s").format(sql.Identifier(schema)),
            (GO["session_deleted"],),
        )
