-- PostgreSQL's files.seq lost its identity column (postgres/0003_files_seq_per_tenant.sql)
-- so that Citus can route every file insert to one shard; SQLite's numbering is its own
-- and unchanged. The version exists in both dialects, so that every backend reports the
-- same schema version.
SELECT 1;
