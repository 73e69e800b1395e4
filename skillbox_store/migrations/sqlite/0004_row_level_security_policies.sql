-- PostgreSQL's row-level security policies were rewritten for the planner
-- (postgres/0004_row_level_security_policies.sql); SQLite has none. The version exists in
-- both dialects, so that every backend reports the same schema version.
SELECT 1;
