-- Row-level security is PostgreSQL's (postgres/0002_row_level_security.sql); SQLite has
-- no roles to guard against. The version exists in both dialects, so that every backend
-- reports the same schema version.
SELECT 1;
