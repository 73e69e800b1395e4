"""Every SQL statement of the adoption, one named constant each (verb first).

Templates name schemas ``{go}`` (the Go tables, where they are), ``{new}`` (the staging
schema the migrations build), ``{backup}`` and ``{goose}``: `compose` fills them in as
quoted `psycopg.sql.Identifier` values. Values are always parameters.

The conversion rules of ``../shared/spec/GO_SCHEMA.md`` live in the ``INSERT_*``
statements and nowhere else; `skillbox_store.adopt.verify` checks their result with
statements written independently of them (a row compared column by column, a chain by
its links), so a wrong rule here is caught before COMMIT.
"""

from __future__ import annotations

from typing import Final

from psycopg import sql

__all__ = ["compose"]


def compose(template: str, **schemas: str) -> sql.Composed:
    """Return ``template`` with each ``{name}`` replaced by the quoted schema ``schemas[name]``."""
    return sql.SQL(template).format(**{k: sql.Identifier(v) for k, v in schemas.items()})


# -- Detection ---------------------------------------------------------------------------

SELECT_RELATIONS: Final = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname"
)
SELECT_SCHEMA_EXISTS: Final = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
# Where goose keeps its table: the first schema of the Go DSN's search_path, so any.
SELECT_GOOSE_TABLES: Final = (
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relname IN ('goose_db_version', 'sandbox_migrations') AND c.relkind = 'r' "
    "AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' "
    "ORDER BY n.nspname, c.relname"
)
# "An applied version is one whose newest row (max id) has is_applied."
SELECT_GOOSE_VERSIONS: Final = (
    "SELECT version_id FROM (SELECT DISTINCT ON (version_id) version_id, is_applied "
    "FROM {goose}.goose_db_version ORDER BY version_id, id DESC) AS newest "
    "WHERE is_applied AND version_id > 0 ORDER BY version_id"
)
SELECT_LEGACY_FILES: Final = "SELECT filename FROM {goose}.sandbox_migrations ORDER BY filename"
# An identity id is goose's current layout; serial (a default nextval) the legacy one.
SELECT_GOOSE_ID_IS_IDENTITY: Final = (
    "SELECT a.attidentity <> '' FROM pg_attribute a "
    "WHERE a.attrelid = %s::regclass AND a.attname = 'id'"
)
SELECT_MIGRATED_VERSION: Final = "SELECT coalesce(max(version), 0) FROM {go}.schema_migrations"

# -- Shape ---------------------------------------------------------------------------

SELECT_COLUMNS: Final = (
    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY c.relname, a.attnum"
)
SELECT_CONSTRAINTS: Final = (
    "SELECT c.relname, k.conname, k.contype::text FROM pg_constraint k "
    "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s ORDER BY c.relname, k.conname"
)
SELECT_TABLE_ROWS: Final = "SELECT count(*) FROM {go}.{table}"

# -- Locks -------------------------------------------------------------------------------

# Writers of the Go service wait here (and the statement waits for theirs, bounded by
# lock_timeout): no row can change between the checks and the copy.
LOCK_GO_TABLES: Final = (
    "LOCK TABLE {go}.api_keys, {go}.executions, {go}.files, {go}.sessions, {go}.skills "
    "IN ACCESS EXCLUSIVE MODE"
)
LOCK_GOOSE_TABLE: Final = "LOCK TABLE {goose}.{table} IN ACCESS EXCLUSIVE MODE"
# Bounds every lock wait of the transaction (the tables' and the advisory lock alike).
SET_LOCAL_LOCK_TIMEOUT: Final = "SELECT set_config('lock_timeout', %s, true)"
# The operators' declared path of row-level security, for this transaction only.
SET_LOCAL_SCOPE_ALL: Final = "SELECT set_config('skillbox.scope', 'all', true)"
# A dry run changes nothing and locks nothing: one snapshot is enough for its counts.
SET_REPEATABLE_READ: Final = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"

# -- Checks: one scan per table, every rule a row breaks ---------------------------------

# The bounds of a timestamp the contract holds: an aware datetime of years 1 to 9999.
# ±infinity falls outside too.
_TIME_OK: Final = "({c} >= '0001-01-01 00:00:00+00' AND {c} < '10000-01-01 00:00:00+00')"


def _time(column: str) -> tuple[str, str]:
    return (f"NOT {_TIME_OK.format(c=column)}", f"{column} is not a time of years 1 to 9999")


def _text(column: str) -> list[tuple[str, str]]:
    return [
        (f"{column} = ''", f"{column} is empty"),
        (f"octet_length({column}) > 512", f"{column} is longer than 512 bytes"),
    ]


KEY_RULES: Final = [
    *_text("tenant_id"),
    (
        # PostgreSQL's regular expressions repeat at most 255 times: length apart.
        "NOT (key_hash ~ '^[0-9a-f]+$' AND length(key_hash) BETWEEN 64 AND 512)",
        "key_hash is not lowercase hex of 64 to 512 characters (what hash_key() returns)",
    ),
    *_text("name"),
    _time("created_at"),
    _time("revoked_at"),
]
EXECUTION_RULES: Final = [
    *_text("tenant_id"),
    *_text("skill_name"),
    *_text("skill_version"),
    (
        "status NOT IN ('running', 'success', 'failed', 'timeout', 'mounted')",
        "status is not one of running, success, failed, timeout, mounted",
    ),
    ("duration_ms < 0", "duration_ms is negative"),
    (
        # array_position refuses a multidimensional array: that rule is the next one.
        "CASE WHEN array_ndims(files_list) > 1 THEN false "
        "ELSE array_position(files_list, NULL) IS NOT NULL END",
        "files_list holds a NULL element",
    ),
    ("array_ndims(files_list) > 1", "files_list is not a one-dimensional array"),
    _time("created_at"),
    _time("finished_at"),
]
SESSION_RULES: Final = [
    *_text("tenant_id"),
    *_text("external_id"),
    _time("created_at"),
    _time("last_accessed_at"),
]
SKILL_RULES: Final = [
    *_text("tenant_id"),
    *_text("name"),
    *_text("version"),
    _time("uploaded_at"),
]
# The chain rules need the chain's root, the parent and the execution: `SELECT_FILE_OFFENCES`
# names those columns root, parent_tenant, parent_version, execution_tenant, same_version.
FILE_RULES: Final = [
    *_text("tenant_id"),
    *_text("name"),
    ("s3_key = ''", "s3_key is empty"),
    ("size_bytes < 0", "size_bytes is negative"),
    ("version < 1", "version is below 1"),
    (
        "session_id <> '' AND session_id !~* "
        "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'",
        "session_id is neither empty nor a UUID in 8-4-4-4-12 form",
    ),
    ("parent_tenant <> tenant_id", "parent_id names another tenant's file"),
    ("execution_tenant <> tenant_id", "execution_id names another tenant's execution"),
    ("version <= parent_version", "version is not above its parent's version"),
    ("root IS NULL", "version chain has no root (parent_id runs in a cycle)"),
    ("same_version > 1", "version is repeated in its chain"),
    _time("created_at"),
    _time("updated_at"),
]


def _offences(rules: list[tuple[str, str]]) -> str:
    """The text[] of the rules a row breaks (a NULL condition breaks none)."""
    # Regular expressions hold braces, which the template filling would take for fields.
    cases = ", ".join(
        f"CASE WHEN {condition} THEN '{name.replace(chr(39), chr(39) * 2)}' END".replace(
            "{", "{{"
        ).replace("}", "}}")
        for condition, name in rules
    )
    return f"array_remove(ARRAY[{cases}]::text[], NULL)"


def _select_offences(source: str, row_id: str, rules: list[tuple[str, str]]) -> str:
    # Built once, at import, from this module's constants only: no value reaches it.
    return (
        f"SELECT row_id, tenant_id, rules FROM (SELECT {row_id} AS row_id, tenant_id, "  # noqa: S608
        f"{_offences(rules)} AS rules FROM {source}) AS checked "
        "WHERE cardinality(rules) > 0 ORDER BY tenant_id, row_id"
    )


SELECT_KEY_OFFENCES: Final = _select_offences("{go}.api_keys", "id::text", KEY_RULES)
SELECT_EXECUTION_OFFENCES: Final = _select_offences("{go}.executions", "id::text", EXECUTION_RULES)
SELECT_SESSION_OFFENCES: Final = _select_offences("{go}.sessions", "id::text", SESSION_RULES)
SELECT_SKILL_OFFENCES: Final = _select_offences(
    "{go}.skills", "name || '@' || version", SKILL_RULES
)
# The chain root by walking down from every root: rows of a cycle are never reached, so
# the walk ends and they keep a NULL root. Go's parent_id is a plain FK on id, so a
# parent always exists, in any tenant.
_WALK_CHAINS: Final = (
    "WITH RECURSIVE walk (id, root) AS ("
    "SELECT id, id FROM {go}.files WHERE parent_id IS NULL "
    "UNION ALL SELECT f.id, w.root FROM {go}.files f JOIN walk w ON f.parent_id = w.id) "
)
SELECT_FILE_OFFENCES: Final = _WALK_CHAINS + _select_offences(
    "(SELECT f.*, w.root, p.tenant_id AS parent_tenant, p.version AS parent_version, "
    "e.tenant_id AS execution_tenant, CASE WHEN w.root IS NULL THEN 1 ELSE "
    "count(*) OVER (PARTITION BY f.tenant_id, w.root, f.version) END AS same_version "
    "FROM {go}.files f LEFT JOIN walk w ON w.id = f.id "
    "LEFT JOIN {go}.files p ON p.id = f.parent_id "
    "LEFT JOIN {go}.executions e ON e.id = f.execution_id) AS f",
    "id::text",
    FILE_RULES,
)
# JSON the contract cannot hold is rare and costly to find in SQL: only the values that
# could break a limit are read and checked by the store's own validation. Depth 64
# needs 65 opening brackets, an integer beyond 64 bits 19 digits, a million values a
# million characters (each test also matches strings that merely contain such text).
SELECT_JSON_CANDIDATES: Final = (
    "SELECT e.id::text, e.tenant_id, e.input::text, e.output::text FROM {go}.executions e, "
    "LATERAL (SELECT coalesce(e.input::text, '') || ' ' || coalesce(e.output::text, '') AS t) j "
    "WHERE (e.input IS NOT NULL OR e.output IS NOT NULL) AND ("
    "length(j.t) - length(translate(j.t, '[{{', '')) >= 65 OR j.t ~ '[0-9]{{19}}' "
    "OR length(j.t) >= 1000000) ORDER BY e.tenant_id, e.id"
)

# -- Newer Go releases (goose 8 and later): data this schema would lose ----------------

HEAD_TABLES: Final = (
    "users",
    "groups",
    "user_groups",
    "invite_codes",
    "approval_requests",
    "tenant_approved_skills",
    "scanner_config",
    "tenant_blocked_skills",
)
# (table, column, condition meaning "holds something", what dropping it would do)
HEAD_COLUMNS: Final = (
    (
        "api_keys",
        "is_service",
        "is_service",
        "key is a service key (cross-tenant access) that would become a plain key",
    ),
    ("api_keys", "user_id", "user_id <> ''", "key is owned by a user; the owner would be lost"),
    (
        "skills",
        "status",
        "status <> 'available'",
        "skill is not available (declined or quarantined) and would become runnable",
    ),
    ("skills", "is_active", "is_active", "skill's active-version mark would be lost"),
    ("skills", "stars", "stars <> 0", "skill's stars would be lost"),
    ("skills", "source_url", "source_url <> ''", "skill's source_url would be lost"),
    ("skills", "scan_result", "scan_result IS NOT NULL", "skill's scan result would be lost"),
    ("skills", "scanned_at", "scanned_at IS NOT NULL", "skill's scan time would be lost"),
    ("skills", "reviewed_by", "reviewed_by <> ''", "skill's reviewer would be lost"),
    ("skills", "reviewed_at", "reviewed_at IS NOT NULL", "skill's review time would be lost"),
)
SELECT_HEAD_KEY_ROWS: Final = (
    "SELECT id::text, tenant_id FROM {go}.api_keys WHERE {condition} ORDER BY tenant_id, id"
)
SELECT_HEAD_SKILL_ROWS: Final = (
    "SELECT name || '@' || version, tenant_id FROM {go}.skills WHERE {condition} "
    "ORDER BY tenant_id, name, version"
)

# -- Conversion: GO_SCHEMA.md's mapping, one INSERT … SELECT per table -------------------

# seq numbers rows by (created_at, id), never by physical order: "newest first" keeps
# Go's order, with the id as the stated tie-break.
INSERT_KEYS: Final = (
    "INSERT INTO {new}.api_keys (tenant_id, id, seq, key_hash, name, created_at, revoked_at) "
    "OVERRIDING SYSTEM VALUE SELECT tenant_id, id, row_number() OVER (ORDER BY created_at, id), "
    "key_hash, name, created_at, revoked_at FROM {go}.api_keys"
)
INSERT_EXECUTIONS: Final = (
    "INSERT INTO {new}.executions (tenant_id, id, seq, skill_name, skill_version, status, "
    "input, output, logs, files_url, files_list, duration_ms, error, created_at, finished_at) "
    "OVERRIDING SYSTEM VALUE SELECT tenant_id, id, row_number() OVER (ORDER BY created_at, id), "
    "skill_name, skill_version, status, input, output, coalesce(logs, ''), "
    "coalesce(files_url, ''), coalesce(files_list, '{{}}'), coalesce(duration_ms, 0), error, "
    "created_at, finished_at FROM {go}.executions"
)
INSERT_SESSIONS: Final = (
    "INSERT INTO {new}.sessions (tenant_id, id, external_id, created_at, last_accessed_at) "
    "SELECT tenant_id, id, external_id, created_at, last_accessed_at FROM {go}.sessions"
)
# Star chains stay stars: chain_id is the root the walk reaches, parent_id as Go wrote it.
INSERT_FILES: Final = _WALK_CHAINS + (
    "INSERT INTO {new}.files (tenant_id, id, seq, session_id, execution_id, name, content_type, "
    "size_bytes, s3_key, version, parent_id, chain_id, created_at, updated_at) "
    "OVERRIDING SYSTEM VALUE SELECT f.tenant_id, f.id, "
    "row_number() OVER (ORDER BY f.created_at, f.id), "
    "nullif(f.session_id, '')::uuid, f.execution_id, f.name, f.content_type, f.size_bytes, "
    "f.s3_key, f.version, f.parent_id, w.root, f.created_at, f.updated_at "
    "FROM {go}.files f JOIN walk w ON w.id = f.id"
)
# Go's latest is the newest uploaded_at; upload_seq keeps that order. Equal uploaded_at
# within a (tenant, name): the higher version in code-point order is the later upload.
INSERT_SKILLS: Final = (
    "INSERT INTO {new}.skills (tenant_id, name, version, description, lang, uploaded_at, "
    "upload_seq) SELECT tenant_id, name, version, description, lang, uploaded_at, "
    'row_number() OVER (ORDER BY uploaded_at, tenant_id COLLATE "C", name COLLATE "C", '
    'version COLLATE "C") FROM {go}.skills'
)
# Past the maxima, so the store's next row gets a fresh number (false: the value given
# is the next one handed out).
SET_SEQUENCE: Final = (
    "SELECT setval(pg_get_serial_sequence(%s, %s), coalesce(max({column}), 0) + 1, false) "
    "FROM {new}.{table}"
)

# -- Swap ----------------------------------------------------------------------------

RENAME_SCHEMA: Final = "ALTER SCHEMA {old} RENAME TO {new}"
MOVE_TABLE: Final = "ALTER TABLE {goose}.{table} SET SCHEMA {backup}"

# -- Verification ----------------------------------------------------------------------

SELECT_COUNTS: Final = (
    "SELECT (SELECT count(*) FROM {go}.api_keys), (SELECT count(*) FROM {new}.api_keys), "
    "(SELECT count(*) FROM {go}.executions), (SELECT count(*) FROM {new}.executions), "
    "(SELECT count(*) FROM {go}.files), (SELECT count(*) FROM {new}.files), "
    "(SELECT count(*) FROM {go}.sessions), (SELECT count(*) FROM {new}.sessions), "
    "(SELECT count(*) FROM {go}.skills), (SELECT count(*) FROM {new}.skills)"
)
# Each: the ids of Go rows missing, added, or with a value that differs after the
# stated conversions, up to 20 of them, and how many in all.
_DIFFERENCES: Final = (
    "SELECT count(*), (array_agg(row_id ORDER BY row_id))[1:20] FROM ("
    "SELECT coalesce({go_row}, {new_row}) AS row_id FROM {go}.{table} g "
    "FULL JOIN {new}.{table} n ON {join} "
    "WHERE g.{key} IS NULL OR n.{key} IS NULL OR ({go_values}) IS DISTINCT FROM ({new_values})"
    ") AS differing"
)


def _differences(
    table: str, key: str, join: str, go_values: str, new_values: str, row: str = "{t}.id::text"
) -> str:
    return (
        _DIFFERENCES.replace("{key}", key)
        .replace("{go_row}", row.format(t="g"))
        .replace("{new_row}", row.format(t="n"))
        .replace("{table}", table)
        .replace("{join}", join)
        .replace("{go_values}", go_values)
        .replace("{new_values}", new_values)
    )


_BY_ID: Final = "n.tenant_id = g.tenant_id AND n.id = g.id"
SELECT_KEY_DIFFERENCES: Final = _differences(
    "api_keys",
    "id",
    _BY_ID,
    "g.key_hash, g.name, g.created_at, g.revoked_at",
    "n.key_hash, n.name, n.created_at, n.revoked_at",
)
SELECT_EXECUTION_DIFFERENCES: Final = _differences(
    "executions",
    "id",
    _BY_ID,
    "g.skill_name, g.skill_version, g.status, g.input, g.output, "
    "CASE WHEN g.logs IS NULL THEN '' ELSE g.logs END, "
    "CASE WHEN g.files_url IS NULL THEN '' ELSE g.files_url END, "
    "CASE WHEN g.files_list IS NULL THEN ARRAY[]::text[] ELSE g.files_list END, "
    "CASE WHEN g.duration_ms IS NULL THEN 0 ELSE g.duration_ms END, "
    "g.error, g.created_at, g.finished_at",
    "n.skill_name, n.skill_version, n.status, n.input, n.output, n.logs, n.files_url, "
    "n.files_list, n.duration_ms, n.error, n.created_at, n.finished_at",
)
SELECT_FILE_DIFFERENCES: Final = _differences(
    "files",
    "id",
    _BY_ID,
    "lower(g.session_id), g.execution_id, g.name, g.content_type, g.size_bytes, g.s3_key, "
    "g.version, g.parent_id, g.created_at, g.updated_at",
    "CASE WHEN n.session_id IS NULL THEN (CASE WHEN g.session_id = '' THEN '' END) "
    "ELSE n.session_id::text END, n.execution_id, n.name, n.content_type, n.size_bytes, "
    "n.s3_key, n.version, n.parent_id, n.created_at, n.updated_at",
)
SELECT_SESSION_DIFFERENCES: Final = _differences(
    "sessions",
    "id",
    _BY_ID,
    "g.external_id, g.created_at, g.last_accessed_at",
    "n.external_id, n.created_at, n.last_accessed_at",
)
SELECT_SKILL_DIFFERENCES: Final = _differences(
    "skills",
    "name",
    # Go's columns have the default collation, ours "C": equality is byte equality in
    # both, but PostgreSQL wants one collation named for the comparison.
    'n.tenant_id = g.tenant_id AND n.name = g.name COLLATE "C" '
    'AND n.version = g.version COLLATE "C"',
    "g.description, g.lang, g.uploaded_at",
    "n.description, n.lang, n.uploaded_at",
    "{t}.tenant_id || ' ' || {t}.name || '@' || {t}.version",
)
# A chain is one chain_id when every root is its own chain and every other file is in
# its parent's chain: checked link by link, independently of the walk that set them.
SELECT_CHAIN_DIFFERENCES: Final = (
    "SELECT count(*), (array_agg(f.id::text ORDER BY f.id))[1:20] FROM {new}.files f "
    "LEFT JOIN {new}.files p ON p.tenant_id = f.tenant_id AND p.id = f.parent_id "
    "WHERE (f.parent_id IS NULL AND f.chain_id <> f.id) "
    "OR (f.parent_id IS NOT NULL AND f.chain_id IS DISTINCT FROM p.chain_id)"
)
# Go's answer: the newest uploaded_at (all of them on a tie). Ours: the highest upload_seq,
# as the store's resolve_latest_version reads it.
SELECT_LATEST_VERSIONS: Final = (
    'WITH go AS (SELECT tenant_id, name, array_agg(version::text ORDER BY version COLLATE "C") '
    "AS versions FROM (SELECT tenant_id, name, version, rank() OVER (PARTITION BY tenant_id, "
    "name ORDER BY uploaded_at DESC) AS place FROM {go}.skills) AS ranked WHERE place = 1 "
    "GROUP BY tenant_id, name), "
    'ours AS (SELECT DISTINCT ON (tenant_id, name) tenant_id, name COLLATE "default" AS name, '
    'version COLLATE "default" AS version '
    "FROM {new}.skills ORDER BY tenant_id, name, upload_seq DESC) "
    "SELECT coalesce(go.tenant_id, ours.tenant_id), coalesce(go.name, ours.name), "
    "go.versions, ours.version FROM go FULL JOIN ours "
    "ON ours.tenant_id = go.tenant_id AND ours.name = go.name "
    "WHERE go.versions IS NULL OR ours.version IS NULL OR cardinality(go.versions) > 1 "
    "OR NOT ours.version = ANY (go.versions) ORDER BY 1, 2"
)
# The next value handed out, read without consuming it (setval puts it back): a
# sequence that was never called has no last_value to read.
SELECT_SEQUENCE_BEHIND: Final = (
    "SELECT setval(n.seq, nextval(n.seq), false) <= "
    "(SELECT coalesce(max({column}), 0) FROM {new}.{table}) "
    "FROM (SELECT pg_get_serial_sequence(%s, %s) AS seq) AS n"
)

# -- What the report states: NULLs Go stored that become values --------------------------

SELECT_NULL_COUNTS: Final = (
    "SELECT count(*) FILTER (WHERE logs IS NULL), count(*) FILTER (WHERE files_url IS NULL), "
    "count(*) FILTER (WHERE files_list IS NULL), count(*) FILTER (WHERE duration_ms IS NULL), "
    "(SELECT count(*) FROM {go}.files WHERE session_id = ''), "
    "(SELECT count(*) FROM {go}.files WHERE session_id <> lower(session_id)), "
    "(SELECT count(*) FROM {go}.files f WHERE f.session_id <> '' AND NOT EXISTS "
    "(SELECT 1 FROM {go}.sessions s WHERE s.id::text = lower(f.session_id))), "
    "(SELECT count(*) FROM {go}.files f WHERE f.parent_id IS NOT NULL AND EXISTS "
    "(SELECT 1 FROM {go}.files p WHERE p.id = f.parent_id AND p.parent_id IS NOT NULL)) "
    "FROM {go}.executions"
)
