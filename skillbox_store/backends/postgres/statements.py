"""Every SQL statement of the PostgreSQL backend, one named constant each.

Names are verb first and match the SQLite backend's where a statement exists in both.
Statements that return records select the columns in the field order of the records in
`skillbox_store.records` (uuid columns cast to text), so a row maps onto its record by
position (see `rows`). Parameters are positional (``%s``) or named (``%(name)s``) where
one value is used twice; values are never interpolated.

The tables live in a configurable schema, so each template names it ``{schema}`` (and
its column list, ``{file_columns}`` and the like) and `Statements.for_schema` fills them
in once per store, the schema as a quoted `psycopg.sql.Identifier`.
That keeps statements correct on a pool the caller owns and behind PgBouncer's
transaction pooling, where a ``search_path`` set per connection would not hold.
Only schema names that PostgreSQL keeps exactly as given are accepted (`check_schema`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Final, Self

from psycopg import sql

from skillbox_store.errors import InvalidArgumentError

__all__ = ["SCHEMA_RULE", "SHARD_RELTUPLES", "Statements", "check_schema"]

# PostgreSQL truncates identifiers to NAMEDATALEN - 1 = 63 bytes, silently: two longer
# names sharing their first 63 bytes would share one set of tables. Lower-case ASCII
# reads the same quoted or not, so psql users find the tables where they expect them.
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
SCHEMA_RULE: Final = (
    "a schema name is 1 to 63 characters of a-z, 0-9 and _, not starting with a "
    "digit, and not a system schema (pg_*, information_schema)"
)


def check_schema(schema: object) -> str:
    """Return ``schema`` if PostgreSQL keeps it as given and it is no system schema.

    Raises:
        InvalidArgumentError: any other name (`SCHEMA_RULE` says what is allowed).
    """
    if (
        not isinstance(schema, str)
        or not _SCHEMA_NAME.fullmatch(schema)
        or schema.startswith("pg_")
        or schema == "information_schema"
    ):
        shown = repr(schema) if len(repr(schema)) <= 80 else repr(schema)[:77] + "..."
        raise InvalidArgumentError(f"schema {shown} is not allowed: {SCHEMA_RULE}")
    return schema


# -- Column lists, in record field order ----------------------------------------------------

_KEY_COLUMNS: Final = "id::text, key_hash, tenant_id, name, created_at, revoked_at"
_EXECUTION_COLUMNS: Final = (
    "id::text, skill_name, skill_version, tenant_id, status, input, output, logs, files_url, "
    "files_list, duration_ms, error, created_at, finished_at"
)
_FILE_COLUMNS: Final = (
    "id::text, tenant_id, session_id::text, execution_id::text, name, content_type, "
    "size_bytes, s3_key, version, parent_id::text, created_at, updated_at"
)
_SESSION_COLUMNS: Final = "id::text, tenant_id, external_id, created_at, last_accessed_at"
_SKILL_COLUMNS: Final = "tenant_id, name, version, description, lang, uploaded_at"


def _page_columns(columns: str) -> str:
    """The output names of ``columns`` as selected by a keyset page's subquery ``p``."""
    return ", ".join("p." + column.strip().split("::")[0] for column in columns.split(","))


_PAGE_EXECUTION_COLUMNS: Final = _page_columns(_EXECUTION_COLUMNS)
_PAGE_FILE_COLUMNS: Final = _page_columns(_FILE_COLUMNS)

# -- The store itself and migrations ------------------------------------------------------------

SELECT_ONE: Final = "SELECT 1"
# CREATE SCHEMA checks the CREATE privilege on the database even when the schema
# exists, so it runs only when the schema is missing: a least-privileged role can
# migrate a schema an administrator made for it.
SELECT_SCHEMA_EXISTS: Final = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
CREATE_SCHEMA: Final = "CREATE SCHEMA IF NOT EXISTS {schema}"
# Transaction-scoped: released by the COMMIT that also publishes the migration. The key
# is derived from the schema, so stores in different schemas migrate independently.
LOCK_MIGRATIONS: Final = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
LOCK_MIGRATIONS_SESSION: Final = "SELECT pg_advisory_lock(hashtextextended(%s, 0))"
# Bounds every lock wait of one transaction (a migration's, the advisory lock above
# included, or a transaction() block's). Local to the transaction: behind a
# transaction-pooling proxy a session setting would stay on the server connection for
# the next client.
SET_LOCAL_LOCK_TIMEOUT: Final = "SELECT set_config('lock_timeout', %s, true)"
UNLOCK_MIGRATIONS_SESSION: Final = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"
# Migration files name their tables unqualified; the runner points them at the schema.
SET_LOCAL_SEARCH_PATH: Final = "SET LOCAL search_path TO {schema}"
SET_SEARCH_PATH: Final = "SET search_path TO {schema}"
RESET_SEARCH_PATH: Final = "RESET search_path"
CREATE_MIGRATIONS_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (version integer PRIMARY KEY, "
    "name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)
SELECT_APPLIED_MIGRATIONS: Final = (
    "SELECT version, name, checksum FROM {schema}.schema_migrations ORDER BY version"
)
SELECT_SCHEMA_VERSION: Final = "SELECT COALESCE(MAX(version), 0) FROM {schema}.schema_migrations"
INSERT_MIGRATION: Final = (
    "INSERT INTO {schema}.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"
)

# -- Operators' totals (skillbox_store.stats.StoreStats) -------------------------------

SELECT_TABLE_COUNTS: Final = (
    "SELECT (SELECT count(*) FROM {schema}.api_keys), (SELECT count(*) FROM {schema}.executions), "
    "(SELECT count(*) FROM {schema}.files), (SELECT count(*) FROM {schema}.sessions), "
    "(SELECT count(*) FROM {schema}.skills)"
)

# Estimates where the planner's statistics say a table is big (at least %(above)s rows),
# exact counts elsewhere, in one statement: CASE evaluates a count(*) subquery only in
# the branch that needs it, so a big table is never scanned. reltuples is -1 for a table
# never analyzed, which is then counted. Each table gives (count, is it an estimate).
SELECT_TABLE_COUNTS_ESTIMATED: Final = (
    "SELECT "
    "CASE WHEN n.api_keys >= %(above)s THEN n.api_keys "
    "ELSE (SELECT count(*) FROM {schema}.api_keys) END, "
    "n.api_keys >= %(above)s, "
    "CASE WHEN n.executions >= %(above)s THEN n.executions "
    "ELSE (SELECT count(*) FROM {schema}.executions) END, "
    "n.executions >= %(above)s, "
    "CASE WHEN n.files >= %(above)s THEN n.files "
    "ELSE (SELECT count(*) FROM {schema}.files) END, "
    "n.files >= %(above)s, "
    "CASE WHEN n.sessions >= %(above)s THEN n.sessions "
    "ELSE (SELECT count(*) FROM {schema}.sessions) END, "
    "n.sessions >= %(above)s, "
    "CASE WHEN n.skills >= %(above)s THEN n.skills "
    "ELSE (SELECT count(*) FROM {schema}.skills) END, "
    "n.skills >= %(above)s FROM (SELECT "
    "(SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE "
    "relnamespace = %(schema)s::regnamespace AND relname = 'api_keys') AS api_keys, "
    "(SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE "
    "relnamespace = %(schema)s::regnamespace AND relname = 'executions') AS executions, "
    "(SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE "
    "relnamespace = %(schema)s::regnamespace AND relname = 'files') AS files, "
    "(SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE "
    "relnamespace = %(schema)s::regnamespace AND relname = 'sessions') AS sessions, "
    "(SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE "
    "relnamespace = %(schema)s::regnamespace AND relname = 'skills') AS skills) n"
)

# -- Citus (skillbox_store.backends.postgres.distribute) --------------------------------

# The coordinator's tables of a distributed schema are empty shells without statistics:
# on Citus the planner's row counts are the shards', read on the workers (a task per
# shard: `status` is an operator's call, not a request's). A shard never analyzed says
# -1 and counts as 0. Citus runs every subquery of a statement before the statement, so
# SELECT_TABLE_COUNTS_ESTIMATED's CASE would not spare the big tables their count(*):
# the estimates come first, then SELECT_TABLE_COUNTS_WANTED counts only the tables
# they call small (each other table's shards get WHERE false, which reads nothing).
SELECT_SHARD_ROW_ESTIMATES: Final = (
    "SELECT (SELECT COALESCE(sum(GREATEST(result::bigint, 0)), 0) FROM "
    "run_command_on_shards(%(api_keys)s, %(reltuples)s) WHERE success), "
    "(SELECT COALESCE(sum(GREATEST(result::bigint, 0)), 0) FROM "
    "run_command_on_shards(%(executions)s, %(reltuples)s) WHERE success), "
    "(SELECT COALESCE(sum(GREATEST(result::bigint, 0)), 0) FROM "
    "run_command_on_shards(%(files)s, %(reltuples)s) WHERE success), "
    "(SELECT COALESCE(sum(GREATEST(result::bigint, 0)), 0) FROM "
    "run_command_on_shards(%(sessions)s, %(reltuples)s) WHERE success), "
    "(SELECT COALESCE(sum(GREATEST(result::bigint, 0)), 0) FROM "
    "run_command_on_shards(%(skills)s, %(reltuples)s) WHERE success)"
)
SELECT_TABLE_COUNTS_WANTED: Final = (
    "SELECT (SELECT count(*) FROM {schema}.api_keys WHERE %(count_api_keys)s), "
    "(SELECT count(*) FROM {schema}.executions WHERE %(count_executions)s), "
    "(SELECT count(*) FROM {schema}.files WHERE %(count_files)s), "
    "(SELECT count(*) FROM {schema}.sessions WHERE %(count_sessions)s), "
    "(SELECT count(*) FROM {schema}.skills WHERE %(count_skills)s)"
)
# The command each shard runs for it, a value (%(reltuples)s): Citus puts the shard's
# name in place of %s.
SHARD_RELTUPLES: Final = (
    "SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE oid = '%s'::regclass"
)
# How many of the schema's tables Citus distributes (after SELECT_CITUS_VERSION said
# Citus is there: pg_dist_partition exists only then).
SELECT_DISTRIBUTED_TABLE_COUNT: Final = (
    "SELECT count(*) FROM pg_catalog.pg_dist_partition p JOIN pg_catalog.pg_class c ON "
    "c.oid = p.logicalrelid WHERE c.relnamespace = %s::regnamespace"
)

# None when this database has no Citus: --distribute then refuses in one line.
SELECT_CITUS_VERSION: Final = (
    "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'"
)
SELECT_TABLE_EXISTS: Final = "SELECT to_regclass(%s)"
# How Citus holds a table, if at all: method 'n' (reference) or 'h' (hash), the
# distribution column, and the co-location group.
SELECT_CITUS_LAYOUT: Final = (
    "SELECT partmethod::text, CASE WHEN partkey IS NULL THEN NULL ELSE "
    "pg_catalog.column_to_column_name(logicalrelid, partkey) END, colocationid "
    "FROM pg_catalog.pg_dist_partition WHERE logicalrelid = to_regclass(%s)"
)
CREATE_REFERENCE_TABLE: Final = "SELECT create_reference_table(%s)"
CREATE_DISTRIBUTED_TABLE: Final = (
    "SELECT create_distributed_table(%s, 'tenant_id', colocate_with => %s)"
)

# -- API keys ---------------------------------------------------------------------------

# Every insert of a record with an id says ON CONFLICT (tenant_id, id) DO NOTHING: a
# retried create whose first attempt committed inserts no row (a row count of 0, said
# by the statement rather than read from a constraint's name), and the store compares
# the stored record with the request (`skillbox_store.idempotency`). The primary key is
# the arbiter, so it is checked before api_keys_key_hash_key and files_chain_version_key:
# a retry is found as a retry, not as a taken hash or version. Store-chosen ids are
# random and never conflict; the arbiter costs them one probe of the index they update.
INSERT_KEY: Final = (
    "INSERT INTO {schema}.api_keys (id, key_hash, tenant_id, name, created_at) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant_id, id) DO NOTHING"
)
SELECT_KEY: Final = "SELECT {key_columns} FROM {schema}.api_keys WHERE tenant_id = %s AND id = %s"
SELECT_KEY_BY_HASH: Final = "SELECT {key_columns} FROM {schema}.api_keys WHERE key_hash = %s"
SELECT_VALID_KEY_BY_HASH: Final = (
    "SELECT {key_columns} FROM {schema}.api_keys WHERE key_hash = %s AND revoked_at IS NULL"
)
SELECT_KEYS: Final = (
    "SELECT {key_columns} FROM {schema}.api_keys WHERE tenant_id = %s ORDER BY seq DESC"
)
REVOKE_KEY: Final = (
    "UPDATE {schema}.api_keys SET revoked_at = %s WHERE tenant_id = %s AND id = %s AND "
    "revoked_at IS NULL RETURNING {key_columns}"
)
SELECT_KEY_REVOKED_AT: Final = (
    "SELECT revoked_at FROM {schema}.api_keys WHERE tenant_id = %s AND id = %s"
)

# -- Executions -------------------------------------------------------------------------

INSERT_EXECUTION: Final = (
    "INSERT INTO {schema}.executions (id, skill_name, skill_version, tenant_id, status, "
    "input, output, logs, files_url, files_list, duration_ms, error, created_at, "
    "finished_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (tenant_id, id) DO NOTHING"
)
SELECT_EXECUTION: Final = (
    "SELECT {execution_columns} FROM {schema}.executions WHERE tenant_id = %s AND id = %s"
)
SELECT_EXECUTIONS_PAGE: Final = (
    "SELECT {execution_columns} FROM {schema}.executions WHERE tenant_id = %s "
    "ORDER BY seq DESC LIMIT %s OFFSET %s"
)
# Keyset paging, one statement and one round trip however deep: `a` is the execution the
# page follows (found by the primary key), and the LATERAL subquery seeks the newest
# index just below its seq. Both name the tenant as the parameter, not as a.tenant_id:
# Citus routes a statement to one shard only when every table is pinned to one value.
# No `a` row means `after` is not the tenant's (NotFoundError); an `a` row with a NULL
# page is the empty page after the oldest execution.
SELECT_EXECUTIONS_AFTER: Final = (
    "SELECT {page_execution_columns} FROM {schema}.executions a LEFT JOIN LATERAL ("
    "SELECT {execution_columns}, e.seq FROM {schema}.executions e WHERE "
    "e.tenant_id = %(tenant_id)s AND e.seq < a.seq ORDER BY e.seq DESC LIMIT %(limit)s) p "
    "ON true WHERE a.tenant_id = %(tenant_id)s AND a.id = %(after)s ORDER BY p.seq DESC"
)
# Under READ COMMITTED a concurrent update re-checks `status` on the row it waited for,
# so of racing updates of one running execution exactly one matches.
UPDATE_RUNNING_EXECUTION: Final = (
    "UPDATE {schema}.executions SET status = %s, output = %s, logs = %s, files_url = %s, "
    "files_list = %s, duration_ms = %s, error = %s, finished_at = %s WHERE tenant_id = %s "
    "AND id = %s AND status = 'running' RETURNING {execution_columns}"
)
SELECT_EXECUTION_STATUS: Final = (
    "SELECT status FROM {schema}.executions WHERE tenant_id = %s AND id = %s"
)

# -- Files ------------------------------------------------------------------------------

# A root file starts its own chain: chain_id is its own id. Every file insert numbers
# the row seq = the tenant's highest + 1 (migration 0003: no identity, a unique index),
# in a form Citus runs on the tenant's shard: an INSERT … SELECT whose tenant_id comes
# from the table it reads, grouped by it. That yields no row for a tenant without files
# (nor for a taken id): INSERT_TENANT_FIRST_FILE then inserts with seq 1. Two inserts
# that race for one number violate files_tenant_newest; the store runs them again. Not
# guarded: a tenant's first two files created, and the one numbered 1 deleted, between
# the two statements would let the new file take 1, below the other.
INSERT_FILE: Final = (
    "INSERT INTO {schema}.files (id, tenant_id, session_id, execution_id, name, "
    "content_type, size_bytes, s3_key, version, parent_id, created_at, updated_at, chain_id, "
    "seq) SELECT %(id)s, s.tenant_id, %(session_id)s, %(execution_id)s, %(name)s, "
    "%(content_type)s, %(size_bytes)s, %(s3_key)s, %(version)s, NULL, %(now)s, %(now)s, "
    "%(id)s, max(s.seq) + 1 FROM {schema}.files s WHERE s.tenant_id = %(tenant_id)s "
    "GROUP BY s.tenant_id ON CONFLICT (tenant_id, id) DO NOTHING"
)
INSERT_TENANT_FIRST_FILE: Final = (
    "INSERT INTO {schema}.files (id, tenant_id, session_id, execution_id, name, "
    "content_type, size_bytes, s3_key, version, parent_id, created_at, updated_at, chain_id, "
    "seq) VALUES (%(id)s, %(tenant_id)s, %(session_id)s, %(execution_id)s, %(name)s, "
    "%(content_type)s, %(size_bytes)s, %(s3_key)s, %(version)s, NULL, %(now)s, %(now)s, "
    "%(id)s, 1) ON CONFLICT (tenant_id, id) DO NOTHING"
)
# A file with a parent joins the parent's chain, in one statement: no row inserted means
# the id is taken (a retry), the parent is missing or its version is not lower (the
# error path tells which); a version already used in the chain violates
# files_chain_version_key (SELECT_CHAIN_VERSION_TAKEN tells it from a race for seq).
INSERT_FILE_AFTER_PARENT: Final = (
    "INSERT INTO {schema}.files (id, tenant_id, session_id, execution_id, name, "
    "content_type, size_bytes, s3_key, version, parent_id, created_at, updated_at, chain_id, "
    "seq) SELECT %(id)s, p.tenant_id, %(session_id)s, %(execution_id)s, %(name)s, "
    "%(content_type)s, %(size_bytes)s, %(s3_key)s, %(version)s, p.id, %(now)s, %(now)s, "
    "p.chain_id, (SELECT max(s.seq) + 1 FROM {schema}.files s WHERE "
    "s.tenant_id = %(tenant_id)s) FROM {schema}.files p WHERE p.tenant_id = %(tenant_id)s AND "
    "p.id = %(parent_id)s AND p.version < %(version)s ON CONFLICT (tenant_id, id) DO NOTHING"
)
SELECT_FILE_VERSION: Final = "SELECT version FROM {schema}.files WHERE tenant_id = %s AND id = %s"
# After a unique violation of INSERT_FILE_AFTER_PARENT: is the version used in the
# parent's chain (the caller's conflict), or was it a race for seq (run it again)?
SELECT_CHAIN_VERSION_TAKEN: Final = (
    "SELECT 1 FROM {schema}.files c WHERE c.tenant_id = %(tenant_id)s AND c.chain_id = "
    "(SELECT p.chain_id FROM {schema}.files p WHERE p.tenant_id = %(tenant_id)s AND "
    "p.id = %(parent_id)s) AND c.version = %(version)s"
)
SELECT_FILE: Final = "SELECT {file_columns} FROM {schema}.files WHERE tenant_id = %s AND id = %s"
# The version may change only between the parent's and the lowest child's; a version
# used elsewhere in the chain violates files_chain_version_key. updated_at never moves
# back, even if the clock does. The subqueries name the tenant as the parameter (not
# f.tenant_id), so that Citus sees one shard: else it is a multi-shard UPDATE.
UPDATE_FILE: Final = (
    "UPDATE {schema}.files f SET name = %(name)s, content_type = %(content_type)s, "
    "size_bytes = %(size_bytes)s, s3_key = %(s3_key)s, version = %(version)s, "
    "updated_at = GREATEST(%(now)s, f.updated_at) "
    "WHERE f.tenant_id = %(tenant_id)s AND f.id = %(id)s AND (f.version = %(version)s OR ("
    "NOT EXISTS (SELECT 1 FROM {schema}.files p WHERE p.tenant_id = %(tenant_id)s AND "
    "p.id = f.parent_id AND p.version >= %(version)s) AND "
    "NOT EXISTS (SELECT 1 FROM {schema}.files c WHERE c.tenant_id = %(tenant_id)s AND "
    "c.parent_id = f.id AND c.version <= %(version)s))) "
    "RETURNING {file_columns}"
)
# A file that a later version names as parent fails files_parent_fkey: nothing deleted.
DELETE_FILE: Final = "DELETE FROM {schema}.files WHERE tenant_id = %s AND id = %s"
SELECT_FILES_PAGE: Final = (
    "SELECT {file_columns} FROM {schema}.files WHERE tenant_id = %s "
    "ORDER BY seq DESC LIMIT %s OFFSET %s"
)
SELECT_FILES_PAGE_BY_SESSION: Final = (
    "SELECT {file_columns} FROM {schema}.files WHERE tenant_id = %s AND session_id = %s "
    "ORDER BY seq DESC LIMIT %s OFFSET %s"
)
SELECT_FILES_PAGE_BY_EXECUTION: Final = (
    "SELECT {file_columns} FROM {schema}.files WHERE tenant_id = %s AND execution_id = %s "
    "ORDER BY seq DESC LIMIT %s OFFSET %s"
)
SELECT_FILES_PAGE_BY_SESSION_AND_EXECUTION: Final = (
    "SELECT {file_columns} FROM {schema}.files WHERE tenant_id = %s AND session_id = %s "
    "AND execution_id = %s ORDER BY seq DESC LIMIT %s OFFSET %s"
)
# Keyset pages of files, as SELECT_EXECUTIONS_AFTER: the file `a` must be in the filtered
# listing, and the page seeks the filter's own index (files_tenant_session_newest,
# files_tenant_execution_newest; both filters: the session's index).
SELECT_FILES_AFTER: Final = (
    "SELECT {page_file_columns} FROM {schema}.files a LEFT JOIN LATERAL ("
    "SELECT {file_columns}, f.seq FROM {schema}.files f WHERE f.tenant_id = %(tenant_id)s "
    "AND f.seq < a.seq ORDER BY f.seq DESC LIMIT %(limit)s) p ON true "
    "WHERE a.tenant_id = %(tenant_id)s AND a.id = %(after)s ORDER BY p.seq DESC"
)
SELECT_FILES_AFTER_BY_SESSION: Final = (
    "SELECT {page_file_columns} FROM {schema}.files a LEFT JOIN LATERAL ("
    "SELECT {file_columns}, f.seq FROM {schema}.files f WHERE f.tenant_id = %(tenant_id)s "
    "AND f.session_id = %(session_id)s AND f.seq < a.seq ORDER BY f.seq DESC "
    "LIMIT %(limit)s) p ON true WHERE a.tenant_id = %(tenant_id)s AND a.id = %(after)s "
    "AND a.session_id = %(session_id)s ORDER BY p.seq DESC"
)
SELECT_FILES_AFTER_BY_EXECUTION: Final = (
    "SELECT {page_file_columns} FROM {schema}.files a LEFT JOIN LATERAL ("
    "SELECT {file_columns}, f.seq FROM {schema}.files f WHERE f.tenant_id = %(tenant_id)s "
    "AND f.execution_id = %(execution_id)s AND f.seq < a.seq ORDER BY f.seq DESC "
    "LIMIT %(limit)s) p ON true WHERE a.tenant_id = %(tenant_id)s AND a.id = %(after)s "
    "AND a.execution_id = %(execution_id)s ORDER BY p.seq DESC"
)
SELECT_FILES_AFTER_BY_SESSION_AND_EXECUTION: Final = (
    "SELECT {page_file_columns} FROM {schema}.files a LEFT JOIN LATERAL ("
    "SELECT {file_columns}, f.seq FROM {schema}.files f WHERE f.tenant_id = %(tenant_id)s "
    "AND f.session_id = %(session_id)s AND f.execution_id = %(execution_id)s "
    "AND f.seq < a.seq ORDER BY f.seq DESC LIMIT %(limit)s) p ON true "
    "WHERE a.tenant_id = %(tenant_id)s AND a.id = %(after)s "
    "AND a.session_id = %(session_id)s AND a.execution_id = %(execution_id)s "
    "ORDER BY p.seq DESC"
)
SELECT_SESSION_FILES: Final = (
    "SELECT {file_columns} FROM {schema}.files WHERE tenant_id = %s AND session_id = %s "
    "ORDER BY seq DESC"
)
# One statement: find the chain's head (highest version) from any member and insert after
# it. Two racing calls read the same head (or the same highest seq); the loser violates
# files_chain_version_key (or files_tenant_newest) and the store runs the statement
# again, which then sees the winner. No row
# back: the member is missing, or the id is taken (a retry: the error path tells which).
INSERT_FILE_VERSION: Final = (
    "INSERT INTO {schema}.files (id, tenant_id, session_id, execution_id, name, "
    "content_type, size_bytes, s3_key, version, parent_id, created_at, updated_at, chain_id, "
    "seq) SELECT %(id)s, h.tenant_id, h.session_id, h.execution_id, COALESCE(%(name)s, h.name), "
    "COALESCE(%(content_type)s, h.content_type), %(size_bytes)s, %(s3_key)s, h.version + 1, "
    "h.id, %(now)s, %(now)s, h.chain_id, (SELECT max(s.seq) + 1 FROM {schema}.files s WHERE "
    "s.tenant_id = %(tenant_id)s) FROM {schema}.files h WHERE "
    "h.tenant_id = %(tenant_id)s AND h.chain_id = (SELECT m.chain_id FROM {schema}.files m "
    "WHERE m.tenant_id = %(tenant_id)s AND m.id = %(file_id)s) ORDER BY h.version DESC "
    "LIMIT 1 ON CONFLICT (tenant_id, id) DO NOTHING RETURNING {file_columns}"
)
# A retried create_file_version's file (id), and whether file_id names a member of its
# chain: a retry matches only the version it appended to that chain.
SELECT_FILE_AND_CHAIN_MEMBERSHIP: Final = (
    "SELECT {file_columns}, COALESCE(chain_id = (SELECT m.chain_id FROM {schema}.files m "
    "WHERE m.tenant_id = %(tenant_id)s AND m.id = %(file_id)s), false) FROM {schema}.files "
    "WHERE tenant_id = %(tenant_id)s AND id = %(id)s"
)
# The whole chain in one range scan of files_chain_version_key, however deep it is.
SELECT_FILE_VERSIONS: Final = (
    "SELECT {file_columns} FROM {schema}.files WHERE tenant_id = %(tenant_id)s AND "
    "chain_id = (SELECT m.chain_id FROM {schema}.files m WHERE m.tenant_id = %(tenant_id)s "
    "AND m.id = %(file_id)s) ORDER BY version DESC"
)

# -- Sessions ---------------------------------------------------------------------------

# Get-or-create in one statement; last_accessed_at never moves back.
UPSERT_SESSION: Final = (
    "INSERT INTO {schema}.sessions AS s (id, tenant_id, external_id, created_at, "
    "last_accessed_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant_id, external_id) DO "
    "UPDATE SET last_accessed_at = GREATEST(EXCLUDED.last_accessed_at, s.last_accessed_at) "
    "RETURNING {session_columns}"
)
SELECT_SESSION: Final = (
    "SELECT {session_columns} FROM {schema}.sessions WHERE tenant_id = %s AND id = %s"
)
SELECT_SESSION_BY_EXTERNAL_ID: Final = (
    "SELECT {session_columns} FROM {schema}.sessions WHERE tenant_id = %s AND external_id = %s"
)
TOUCH_SESSION: Final = (
    "UPDATE {schema}.sessions s SET last_accessed_at = GREATEST(%s, s.last_accessed_at) "
    "WHERE s.tenant_id = %s AND s.id = %s RETURNING {session_columns}"
)
DELETE_SESSION: Final = "DELETE FROM {schema}.sessions WHERE tenant_id = %s AND external_id = %s"

# -- Purge and prune --------------------------------------------------------------------

# The tables distributed by tenant in one statement: the foreign keys are checked when
# the whole statement ends, after every table's rows are gone. The outer FROM (one row:
# an aggregate) pins the statement to the tenant's shard; without a FROM, Citus plans
# each CTE as a subplan of its own. api_keys, a reference table on Citus (on every
# node), goes in PURGE_TENANT_KEYS, in the same transaction (retention.purge_tenant).
PURGE_TENANT: Final = (
    "WITH f AS (DELETE FROM {schema}.files WHERE tenant_id = %(tenant_id)s RETURNING s3_key), "
    "e AS (DELETE FROM {schema}.executions WHERE tenant_id = %(tenant_id)s RETURNING 1), "
    "s AS (DELETE FROM {schema}.sessions WHERE tenant_id = %(tenant_id)s RETURNING 1), "
    "k AS (DELETE FROM {schema}.skills WHERE tenant_id = %(tenant_id)s RETURNING 1) "
    "SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM s), (SELECT count(*) FROM k), "
    "COALESCE((SELECT array_agg(s3_key) FROM f), '{{}}') FROM (SELECT count(*) FROM "
    "{schema}.executions o WHERE o.tenant_id = %(tenant_id)s) one"
)
PURGE_TENANT_KEYS: Final = "DELETE FROM {schema}.api_keys WHERE tenant_id = %(tenant_id)s"
# Every sub-statement sees one snapshot: candidates minus removed is what files keep.
# A file naming a candidate committed meanwhile fails files_execution_fkey: nothing goes.
PRUNE_EXECUTIONS: Final = (
    "WITH candidates AS (SELECT id FROM {schema}.executions WHERE tenant_id = %(tenant_id)s "
    "AND status <> 'running' AND finished_at < %(before)s), "
    "removed AS (DELETE FROM {schema}.executions e USING candidates c WHERE "
    "e.tenant_id = %(tenant_id)s AND e.id = c.id AND NOT EXISTS (SELECT 1 FROM "
    "{schema}.files f WHERE f.tenant_id = %(tenant_id)s AND f.execution_id = e.id) "
    "RETURNING 1) "
    "SELECT (SELECT count(*) FROM removed), (SELECT count(*) FROM candidates)"
)

# -- Bulk reads and writes (skillbox_store.bulk.StoreBulk) -----------------------------

# -- Row-level security (tenancy.py, rls.py) ---------------------------------------------

# How many of the five tenant tables enforce their policies (ENABLE and FORCE), and
# whether the connected role escapes them anyway (superuser or BYPASSRLS).
SELECT_RLS_STATE: Final = (
    "SELECT (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = "
    "%s::regnamespace AND relname IN ('api_keys', 'executions', 'files', 'sessions', "
    "'skills') AND relrowsecurity AND relforcerowsecurity), "
    "(SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user), "
    "to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL"
)
# Asked only where Citus is installed (the table exists): how many of the schema's
# tables it distributes, whose shards never see the transaction's declaration.
SELECT_CITUS_TABLES_IN_SCHEMA: Final = (
    "SELECT count(*) FROM pg_catalog.pg_dist_partition p JOIN pg_catalog.pg_class c "
    "ON c.oid = p.logicalrelid WHERE c.relnamespace = %s::regnamespace"
)
ENABLE_RLS: Final = (
    "ALTER TABLE {schema}.api_keys ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; "
    "ALTER TABLE {schema}.executions ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; "
    "ALTER TABLE {schema}.files ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; "
    "ALTER TABLE {schema}.sessions ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; "
    "ALTER TABLE {schema}.skills ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY"
)
DISABLE_RLS: Final = (
    "ALTER TABLE {schema}.api_keys NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY; "
    "ALTER TABLE {schema}.executions NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY; "
    "ALTER TABLE {schema}.files NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY; "
    "ALTER TABLE {schema}.sessions NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY; "
    "ALTER TABLE {schema}.skills NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY"
)
# The operators' declared path, for a transaction that serves every tenant on purpose
# (the bulk capability's snapshot), local to it.
SET_LOCAL_SCOPE_ALL: Final = "SELECT set_config('skillbox.scope', 'all', true)"
SET_LOCAL_TENANT: Final = "SELECT set_config('skillbox.tenant_id', %s, true)"

# The first statement of an export's transaction: one snapshot for every later read.
SET_TRANSACTION_SNAPSHOT: Final = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
SELECT_BULK_TENANTS: Final = (
    "SELECT t FROM (SELECT tenant_id AS t FROM {schema}.api_keys UNION "
    "SELECT tenant_id FROM {schema}.executions UNION SELECT tenant_id FROM {schema}.files "
    "UNION SELECT tenant_id FROM {schema}.sessions UNION SELECT tenant_id FROM "
    '{schema}.skills) u ORDER BY t COLLATE "C"'
)
# Every tenant, one after another, each in creation order: the (tenant_id, seq DESC)
# indexes scanned backwards give exactly this order without a sort.
SELECT_BULK_KEYS: Final = "SELECT {key_columns} FROM {schema}.api_keys ORDER BY tenant_id DESC, seq"
SELECT_BULK_TENANT_KEYS: Final = (
    "SELECT {key_columns} FROM {schema}.api_keys WHERE tenant_id = %s ORDER BY seq"
)
SELECT_BULK_EXECUTIONS: Final = (
    "SELECT {execution_columns} FROM {schema}.executions ORDER BY tenant_id DESC, seq"
)
SELECT_BULK_TENANT_EXECUTIONS: Final = (
    "SELECT {execution_columns} FROM {schema}.executions WHERE tenant_id = %s ORDER BY seq"
)
SELECT_BULK_FILES: Final = "SELECT {file_columns} FROM {schema}.files ORDER BY tenant_id DESC, seq"
SELECT_BULK_TENANT_FILES: Final = (
    "SELECT {file_columns} FROM {schema}.files WHERE tenant_id = %s ORDER BY seq"
)
# uuid order is the order of their lowercase text, as on the other backends.
SELECT_BULK_SESSIONS: Final = (
    "SELECT {session_columns} FROM {schema}.sessions ORDER BY tenant_id, id"
)
SELECT_BULK_TENANT_SESSIONS: Final = (
    "SELECT {session_columns} FROM {schema}.sessions WHERE tenant_id = %s ORDER BY id"
)
SELECT_BULK_SKILLS: Final = (
    "SELECT {skill_columns} FROM {schema}.skills ORDER BY tenant_id, name, upload_seq"
)
SELECT_BULK_TENANT_SKILLS: Final = (
    "SELECT {skill_columns} FROM {schema}.skills WHERE tenant_id = %s ORDER BY name, upload_seq"
)
SELECT_BULK_FOUND_KEYS: Final = (
    "SELECT {key_columns} FROM {schema}.api_keys WHERE tenant_id = %s AND id = ANY(%s::uuid[])"
)
SELECT_BULK_FOUND_EXECUTIONS: Final = (
    "SELECT {execution_columns} FROM {schema}.executions WHERE tenant_id = %s AND "
    "id = ANY(%s::uuid[])"
)
SELECT_BULK_FOUND_FILES: Final = (
    "SELECT {file_columns} FROM {schema}.files WHERE tenant_id = %s AND id = ANY(%s::uuid[])"
)
SELECT_BULK_FOUND_SESSIONS: Final = (
    "SELECT {session_columns} FROM {schema}.sessions WHERE tenant_id = %s AND id = ANY(%s::uuid[])"
)
SELECT_BULK_FOUND_SKILLS: Final = (
    "SELECT {skill_columns} FROM {schema}.skills WHERE tenant_id = %s AND (name, version) IN "
    "(SELECT * FROM unnest(%s::text[], %s::text[]))"
)
# The chains that the parents of a batch of files belong to.
SELECT_BULK_CHAIN_IDS: Final = (
    "SELECT id::text, chain_id::text FROM {schema}.files WHERE tenant_id = %s AND "
    "id = ANY(%s::uuid[])"
)
# COPY assigns seq (and a skill's upload_seq) in row order: a batch keeps its order.
COPY_BULK_KEYS: Final = (
    "COPY {schema}.api_keys (id, key_hash, tenant_id, name, created_at, revoked_at) FROM STDIN"
)
COPY_BULK_EXECUTIONS: Final = (
    "COPY {schema}.executions (id, skill_name, skill_version, tenant_id, status, input, "
    "output, logs, files_url, files_list, duration_ms, error, created_at, finished_at) "
    "FROM STDIN"
)
# files.seq has no default (migration 0003): bulk.py numbers a batch from the tenant's
# highest seq (SELECT_FILES_MAX_SEQ) in row order.
COPY_BULK_FILES: Final = (
    "COPY {schema}.files (id, tenant_id, session_id, execution_id, name, content_type, "
    "size_bytes, s3_key, version, parent_id, created_at, updated_at, chain_id, seq) FROM STDIN"
)
SELECT_FILES_MAX_SEQ: Final = (
    "SELECT COALESCE(max(seq), 0) FROM {schema}.files WHERE tenant_id = %s"
)
COPY_BULK_SESSIONS: Final = (
    "COPY {schema}.sessions (id, tenant_id, external_id, created_at, last_accessed_at) FROM STDIN"
)
COPY_BULK_SKILLS: Final = (
    "COPY {schema}.skills (tenant_id, name, version, description, lang, uploaded_at) FROM STDIN"
)
# The same rows by INSERT, where row-level security applies to the role: PostgreSQL
# refuses COPY FROM into a table whose policies apply ("use INSERT statements instead").
# Sent with executemany, which psycopg pipelines: one round trip per batch, not per row.
INSERT_BULK_KEYS: Final = (
    "INSERT INTO {schema}.api_keys (id, key_hash, tenant_id, name, created_at, revoked_at) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
INSERT_BULK_EXECUTIONS: Final = (
    "INSERT INTO {schema}.executions (id, skill_name, skill_version, tenant_id, status, "
    "input, output, logs, files_url, files_list, duration_ms, error, created_at, "
    "finished_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_BULK_FILES: Final = (
    "INSERT INTO {schema}.files (id, tenant_id, session_id, execution_id, name, "
    "content_type, size_bytes, s3_key, version, parent_id, created_at, updated_at, "
    "chain_id, seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_BULK_SESSIONS: Final = (
    "INSERT INTO {schema}.sessions (id, tenant_id, external_id, created_at, "
    "last_accessed_at) VALUES (%s, %s, %s, %s, %s)"
)
INSERT_BULK_SKILLS: Final = (
    "INSERT INTO {schema}.skills (tenant_id, name, version, description, lang, "
    "uploaded_at) VALUES (%s, %s, %s, %s, %s, %s)"
)

# -- Skills -----------------------------------------------------------------------------

# upload_seq's default draws from a sequence for the proposed row, so EXCLUDED.upload_seq
# is fresh on update too: the upserted version becomes the latest either way.
UPSERT_SKILL: Final = (
    "INSERT INTO {schema}.skills (tenant_id, name, version, description, lang, uploaded_at) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, name, version) DO UPDATE SET "
    "description = EXCLUDED.description, lang = EXCLUDED.lang, uploaded_at = "
    "EXCLUDED.uploaded_at, upload_seq = EXCLUDED.upload_seq RETURNING {skill_columns}"
)
SELECT_SKILL: Final = (
    "SELECT {skill_columns} FROM {schema}.skills WHERE tenant_id = %s AND name = %s AND "
    "version = %s"
)
DELETE_SKILL: Final = (
    "DELETE FROM {schema}.skills WHERE tenant_id = %s AND name = %s AND version = %s"
)
# name and version are COLLATE "C": code-point order, served by the primary key.
SELECT_SKILLS: Final = (
    "SELECT {skill_columns} FROM {schema}.skills WHERE tenant_id = %s ORDER BY name, version"
)
SELECT_LATEST_SKILL_VERSION: Final = (
    "SELECT version FROM {schema}.skills WHERE tenant_id = %s AND name = %s "
    "ORDER BY upload_seq DESC LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class Statements:
    """The statements above with ``{schema}`` filled in, built once per store.

    Each field holds the statement of the module constant with the same name, as the
    bytes psycopg sends (no per-call composing or encoding).
    """

    schema: str
    SELECT_ONE: bytes
    SELECT_SCHEMA_EXISTS: bytes
    CREATE_SCHEMA: bytes
    LOCK_MIGRATIONS: bytes
    LOCK_MIGRATIONS_SESSION: bytes
    SET_LOCAL_LOCK_TIMEOUT: bytes
    SELECT_RLS_STATE: bytes
    SELECT_CITUS_TABLES_IN_SCHEMA: bytes
    ENABLE_RLS: bytes
    DISABLE_RLS: bytes
    SET_LOCAL_SCOPE_ALL: bytes
    SET_LOCAL_TENANT: bytes
    UNLOCK_MIGRATIONS_SESSION: bytes
    SET_LOCAL_SEARCH_PATH: bytes
    SET_SEARCH_PATH: bytes
    RESET_SEARCH_PATH: bytes
    CREATE_MIGRATIONS_TABLE: bytes
    SELECT_APPLIED_MIGRATIONS: bytes
    SELECT_SCHEMA_VERSION: bytes
    SELECT_TABLE_COUNTS: bytes
    SELECT_TABLE_COUNTS_ESTIMATED: bytes
    SELECT_CITUS_VERSION: bytes
    SELECT_SHARD_ROW_ESTIMATES: bytes
    SELECT_TABLE_COUNTS_WANTED: bytes
    SELECT_DISTRIBUTED_TABLE_COUNT: bytes
    SELECT_TABLE_EXISTS: bytes
    SELECT_CITUS_LAYOUT: bytes
    CREATE_REFERENCE_TABLE: bytes
    CREATE_DISTRIBUTED_TABLE: bytes
    INSERT_MIGRATION: bytes
    INSERT_KEY: bytes
    SELECT_KEY: bytes
    SELECT_KEY_BY_HASH: bytes
    SELECT_VALID_KEY_BY_HASH: bytes
    SELECT_KEYS: bytes
    REVOKE_KEY: bytes
    SELECT_KEY_REVOKED_AT: bytes
    INSERT_EXECUTION: bytes
    SELECT_EXECUTION: bytes
    SELECT_EXECUTIONS_PAGE: bytes
    SELECT_EXECUTIONS_AFTER: bytes
    UPDATE_RUNNING_EXECUTION: bytes
    SELECT_EXECUTION_STATUS: bytes
    INSERT_FILE: bytes
    INSERT_TENANT_FIRST_FILE: bytes
    INSERT_FILE_AFTER_PARENT: bytes
    SELECT_FILE_VERSION: bytes
    SELECT_CHAIN_VERSION_TAKEN: bytes
    SELECT_FILE: bytes
    UPDATE_FILE: bytes
    DELETE_FILE: bytes
    SELECT_FILES_PAGE: bytes
    SELECT_FILES_PAGE_BY_SESSION: bytes
    SELECT_FILES_PAGE_BY_EXECUTION: bytes
    SELECT_FILES_PAGE_BY_SESSION_AND_EXECUTION: bytes
    SELECT_FILES_AFTER: bytes
    SELECT_FILES_AFTER_BY_SESSION: bytes
    SELECT_FILES_AFTER_BY_EXECUTION: bytes
    SELECT_FILES_AFTER_BY_SESSION_AND_EXECUTION: bytes
    SELECT_SESSION_FILES: bytes
    INSERT_FILE_VERSION: bytes
    SELECT_FILE_AND_CHAIN_MEMBERSHIP: bytes
    SELECT_FILE_VERSIONS: bytes
    UPSERT_SESSION: bytes
    SELECT_SESSION: bytes
    SELECT_SESSION_BY_EXTERNAL_ID: bytes
    TOUCH_SESSION: bytes
    DELETE_SESSION: bytes
    SET_TRANSACTION_SNAPSHOT: bytes
    SELECT_BULK_TENANTS: bytes
    SELECT_BULK_KEYS: bytes
    SELECT_BULK_TENANT_KEYS: bytes
    SELECT_BULK_EXECUTIONS: bytes
    SELECT_BULK_TENANT_EXECUTIONS: bytes
    SELECT_BULK_FILES: bytes
    SELECT_BULK_TENANT_FILES: bytes
    SELECT_BULK_SESSIONS: bytes
    SELECT_BULK_TENANT_SESSIONS: bytes
    SELECT_BULK_SKILLS: bytes
    SELECT_BULK_TENANT_SKILLS: bytes
    SELECT_BULK_FOUND_KEYS: bytes
    SELECT_BULK_FOUND_EXECUTIONS: bytes
    SELECT_BULK_FOUND_FILES: bytes
    SELECT_BULK_FOUND_SESSIONS: bytes
    SELECT_BULK_FOUND_SKILLS: bytes
    SELECT_BULK_CHAIN_IDS: bytes
    COPY_BULK_KEYS: bytes
    COPY_BULK_EXECUTIONS: bytes
    COPY_BULK_FILES: bytes
    SELECT_FILES_MAX_SEQ: bytes
    COPY_BULK_SESSIONS: bytes
    COPY_BULK_SKILLS: bytes
    INSERT_BULK_KEYS: bytes
    INSERT_BULK_EXECUTIONS: bytes
    INSERT_BULK_FILES: bytes
    INSERT_BULK_SESSIONS: bytes
    INSERT_BULK_SKILLS: bytes
    PURGE_TENANT: bytes
    PURGE_TENANT_KEYS: bytes
    PRUNE_EXECUTIONS: bytes
    UPSERT_SKILL: bytes
    SELECT_SKILL: bytes
    DELETE_SKILL: bytes
    SELECT_SKILLS: bytes
    SELECT_LATEST_SKILL_VERSION: bytes

    @classmethod
    def for_schema(cls, schema: str) -> Self:
        """Return every statement with its tables qualified by ``schema`` (quoted).

        Raises:
            InvalidArgumentError: ``schema`` breaks `SCHEMA_RULE`.
        """
        check_schema(schema)
        names = {
            "schema": sql.Identifier(schema),
            "key_columns": sql.SQL(_KEY_COLUMNS),
            "execution_columns": sql.SQL(_EXECUTION_COLUMNS),
            "file_columns": sql.SQL(_FILE_COLUMNS),
            "session_columns": sql.SQL(_SESSION_COLUMNS),
            "skill_columns": sql.SQL(_SKILL_COLUMNS),
            "page_execution_columns": sql.SQL(_PAGE_EXECUTION_COLUMNS),
            "page_file_columns": sql.SQL(_PAGE_FILE_COLUMNS),
        }
        texts = globals()
        values: dict[str, object] = {"schema": schema}
        for spec in fields(cls):
            if spec.name == "schema":
                continue
            template = sql.SQL(texts[spec.name])
            values[spec.name] = template.format(**names).as_string(None).encode()
        return cls(**values)  # type: ignore[arg-type]
