-- files.seq numbered per tenant by the statement that inserts the row, not by an
-- identity column. Citus cannot push an INSERT … SELECT whose target has an identity
-- (its nextval is volatile) down to the shard: it pulls the rows through the
-- coordinator in several steps, where errors lose their constraint names and an
-- ON CONFLICT … DO NOTHING no longer tells by its row count what happened. Every file
-- insert now says seq = the tenant's highest + 1, read from files_tenant_newest in the
-- same statement; that index becomes unique, so two inserts that raced for one number
-- cannot both commit (the loser fails with a unique violation and the store runs it
-- again). "Newest first" needs seq to increase only within a tenant, which this gives
-- on one server and on every shard. api_keys (a reference table, written with
-- INSERT … VALUES) and executions (INSERT … VALUES only) keep their identity columns.
--
-- On one server the identity is dropped in place. Citus refuses DROP IDENTITY on a
-- distributed table (of ALTER TABLE it propagates only ADD/DROP COLUMN, defaults,
-- constraints and the like), so a schema distributed already gets a new column with
-- the old numbers, and the three indexes on seq (dropped with the old column) anew.
DO $$
DECLARE
    distributed boolean := false;
BEGIN
    -- pg_dist_partition exists only where Citus is installed: asked through EXECUTE,
    -- so that the block also compiles without it.
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition '
            'WHERE logicalrelid = ''files''::regclass)' INTO distributed;
    END IF;
    IF NOT distributed THEN
        ALTER TABLE files ALTER COLUMN seq DROP IDENTITY;
        DROP INDEX files_tenant_newest;
        CREATE UNIQUE INDEX files_tenant_newest ON files (tenant_id, seq DESC);
        RETURN;
    END IF;
    ALTER TABLE files ADD COLUMN seq_numbered bigint;
    UPDATE files SET seq_numbered = seq;
    ALTER TABLE files DROP COLUMN seq;
    ALTER TABLE files RENAME COLUMN seq_numbered TO seq;
    ALTER TABLE files ALTER COLUMN seq SET NOT NULL;
    CREATE UNIQUE INDEX files_tenant_newest ON files (tenant_id, seq DESC);
    CREATE INDEX files_tenant_session_newest ON files (tenant_id, session_id, seq DESC)
        WHERE session_id IS NOT NULL;
    CREATE INDEX files_tenant_execution_newest ON files (tenant_id, execution_id, seq DESC)
        WHERE execution_id IS NOT NULL;
END
$$;
