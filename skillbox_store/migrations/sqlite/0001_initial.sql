-- The Go service's tables and columns, with the contract's fixes (see the PostgreSQL
-- migration of the same number for the reasons); the same tables and columns.
-- * seq is the rowid (AUTOINCREMENT: never reused), so "newest first" has no ties;
-- * timestamps are TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ' in UTC: fixed width, so they sort
--   as text and keep microseconds;
-- * JSON values and files_list are JSON text;
-- * the default BINARY collation already sorts by code point.

CREATE TABLE api_keys (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    key_hash   TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    CONSTRAINT api_keys_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
) STRICT;
CREATE INDEX api_keys_tenant_newest ON api_keys (tenant_id, seq DESC);

CREATE TABLE executions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    skill_name    TEXT NOT NULL,
    skill_version TEXT NOT NULL,
    status        TEXT NOT NULL
        CHECK (status IN ('running', 'success', 'failed', 'timeout', 'mounted')),
    input         TEXT,
    output        TEXT,
    logs          TEXT NOT NULL DEFAULT '',
    files_url     TEXT NOT NULL DEFAULT '',
    files_list    TEXT NOT NULL DEFAULT '[]',
    duration_ms   INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    error         TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT,
    CONSTRAINT executions_tenant_id_key UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX executions_tenant_newest ON executions (tenant_id, seq DESC);

CREATE TABLE files (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    session_id   TEXT,
    execution_id TEXT,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL DEFAULT 'application/octet-stream',
    size_bytes   INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    s3_key       TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    parent_id    TEXT,
    chain_id     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CONSTRAINT files_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT files_chain_version_key UNIQUE (tenant_id, chain_id, version),
    CONSTRAINT files_parent_fkey FOREIGN KEY (tenant_id, parent_id)
        REFERENCES files (tenant_id, id),
    CONSTRAINT files_execution_fkey FOREIGN KEY (tenant_id, execution_id)
        REFERENCES executions (tenant_id, id)
) STRICT;
CREATE INDEX files_tenant_newest ON files (tenant_id, seq DESC);
CREATE INDEX files_tenant_session_newest ON files (tenant_id, session_id, seq DESC)
    WHERE session_id IS NOT NULL;
CREATE INDEX files_tenant_execution_newest ON files (tenant_id, execution_id, seq DESC)
    WHERE execution_id IS NOT NULL;
-- Serves the parent foreign key when a file is deleted, and the child check of updates.
CREATE INDEX files_tenant_parent ON files (tenant_id, parent_id)
    WHERE parent_id IS NOT NULL;

CREATE TABLE sessions (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    last_accessed_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT sessions_external_id_key UNIQUE (tenant_id, external_id)
) STRICT;

CREATE TABLE skills (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    lang        TEXT NOT NULL DEFAULT 'python',
    uploaded_at TEXT NOT NULL,
    -- Upload order without ties within a skill: resolve_latest_version takes the highest.
    upload_seq  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name, version)
) STRICT;
