-- Row-level security: a second wall between tenants, behind every statement's own
-- tenant_id = … predicate. Each tenant table admits only the rows of the tenant the
-- current transaction declared (set_config('skillbox.tenant_id', …, true), which the
-- store sends with every statement, in the same query), for reading and for writing.
-- api_keys also lets a transaction read the one key whose exact hash it declared
-- (skillbox.key_hash): the contract's two lookups across tenants, and nothing else.
-- skillbox.scope = 'all' is the operators' declared path (status totals, the bulk
-- capability's snapshot and copy-in). A statement that declares nothing sees nothing.
--
-- FORCE applies the policies to the tables' owner too: the store usually connects as
-- the role that migrated. A superuser or a role with BYPASSRLS is never subject to them;
-- the store tells (status, and rls=required refuses to open). Foreign-key checks and
-- unique indexes see every row, as they must.
--
-- Each setting is read by a plain current_setting call, not a sub-select (which the
-- planner would read once per statement): Citus refuses sub-selects in the policies of
-- a table it distributes.

CREATE POLICY tenant_rows ON api_keys
    USING (tenant_id = current_setting('skillbox.tenant_id', true)
           OR current_setting('skillbox.scope', true) = 'all')
    WITH CHECK (tenant_id = current_setting('skillbox.tenant_id', true)
                OR current_setting('skillbox.scope', true) = 'all');
CREATE POLICY key_by_hash ON api_keys FOR SELECT
    USING (key_hash = current_setting('skillbox.key_hash', true));

CREATE POLICY tenant_rows ON executions
    USING (tenant_id = current_setting('skillbox.tenant_id', true)
           OR current_setting('skillbox.scope', true) = 'all')
    WITH CHECK (tenant_id = current_setting('skillbox.tenant_id', true)
                OR current_setting('skillbox.scope', true) = 'all');

CREATE POLICY tenant_rows ON files
    USING (tenant_id = current_setting('skillbox.tenant_id', true)
           OR current_setting('skillbox.scope', true) = 'all')
    WITH CHECK (tenant_id = current_setting('skillbox.tenant_id', true)
                OR current_setting('skillbox.scope', true) = 'all');

CREATE POLICY tenant_rows ON sessions
    USING (tenant_id = current_setting('skillbox.tenant_id', true)
           OR current_setting('skillbox.scope', true) = 'all')
    WITH CHECK (tenant_id = current_setting('skillbox.tenant_id', true)
                OR current_setting('skillbox.scope', true) = 'all');

CREATE POLICY tenant_rows ON skills
    USING (tenant_id = current_setting('skillbox.tenant_id', true)
           OR current_setting('skillbox.scope', true) = 'all')
    WITH CHECK (tenant_id = current_setting('skillbox.tenant_id', true)
                OR current_setting('skillbox.scope', true) = 'all');

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE executions ENABLE ROW LEVEL SECURITY;
ALTER TABLE executions FORCE ROW LEVEL SECURITY;
ALTER TABLE files ENABLE ROW LEVEL SECURITY;
ALTER TABLE files FORCE ROW LEVEL SECURITY;
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE skills ENABLE ROW LEVEL SECURITY;
ALTER TABLE skills FORCE ROW LEVEL SECURITY;
