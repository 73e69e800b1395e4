-- The Go service's tables and columns, with the contract's fixes:
-- * every primary key starts with tenant_id, so references can be tenant-consistent and
--   every table can be distributed on tenant_id;
-- * files point at their parent and execution through (tenant_id, id), so a file can
--   never name another tenant's rows;
-- * chain_id (the id of the chain's first file) makes a version unique per chain and
--   lets a whole chain be read with one index range scan, however deep;
-- * seq orders "newest first" without ties, even within one transaction;
-- * text that is sorted is COLLATE "C": code-point order whatever the database locale.
-- The runner sets search_path to the store's schema (sandbox by default).

CREATE TABLE api_keys (
    tenant_id  text        NOT NULL,
    id         uuid        NOT NULL,
    seq        bigint      GENERATED ALWAYS AS IDENTITY,
    key_hash   text        NOT NULL,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_tenant_newest ON api_keys (tenant_id, seq DESC);

CREATE TABLE executions (
    tenant_id     text        NOT NULL,
    id            uuid        NOT NULL,
    seq           bigint      GENERATED ALWAYS AS IDENTITY,
    skill_name    text        NOT NULL,
    skill_version text        NOT NULL,
    status        text        NOT NULL
        CHECK (status IN ('running', 'success', 'failed', 'timeout', 'mounted')),
    input         jsonb,
    output        jsonb,
    logs          text        NOT NULL DEFAULT '',
    files_url     text        NOT NULL DEFAULT '',
    files_list    text[]      NOT NULL DEFAULT '{}',
    duration_ms   bigint      NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX executions_tenant_newest ON executions (tenant_id, seq DESC);

CREATE TABLE files (
    tenant_id    text        NOT NULL,
    id           uuid        NOT NULL,
    seq          bigint      GENERATED ALWAYS AS IDENTITY,
    session_id   uuid,
    execution_id uuid,
    name         text        NOT NULL,
    content_type text        NOT NULL DEFAULT 'application/octet-stream',
    size_bytes   bigint      NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    s3_key       text        NOT NULL,
    version      integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    parent_id    uuid,
    chain_id     uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT files_chain_version_key UNIQUE (tenant_id, chain_id, version),
    CONSTRAINT files_parent_fkey FOREIGN KEY (tenant_id, parent_id)
        REFERENCES files (tenant_id, id),
    CONSTRAINT files_execution_fkey FOREIGN KEY (tenant_id, execution_id)
        REFERENCES executions (tenant_id, id)
);
CREATE INDEX files_tenant_newest ON files (tenant_id, seq DESC);
CREATE INDEX files_tenant_session_newest ON files (tenant_id, session_id, seq DESC)
    WHERE session_id IS NOT NULL;
CREATE INDEX files_tenant_execution_newest ON files (tenant_id, execution_id, seq DESC)
    WHERE execution_id IS NOT NULL;
-- Serves the parent foreign key when a file is deleted, and the child check of updates.
CREATE INDEX files_tenant_parent ON files (tenant_id, parent_id)
    WHERE parent_id IS NOT NULL;

CREATE TABLE sessions (
    tenant_id        text        NOT NULL,
    id               uuid        NOT NULL,
    external_id      text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_accessed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT sessions_external_id_key UNIQUE (tenant_id, external_id)
);

CREATE SEQUENCE skills_upload_seq AS bigint;
CREATE TABLE skills (
    tenant_id   text        NOT NULL,
    name        text        COLLATE "C" NOT NULL,
    version     text        COLLATE "C" NOT NULL,
    description text        NOT NULL DEFAULT '',
    lang        text        NOT NULL DEFAULT 'python',
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    -- Upload order without ties: resolve_latest_version takes the highest.
    upload_seq  bigint      NOT NULL DEFAULT nextval('skills_upload_seq'),
    PRIMARY KEY (tenant_id, name, version)
);
ALTER SEQUENCE skills_upload_seq OWNED BY skills.upload_seq;
