-- Roles and databases of the demo stack. Run as superuser; idempotent.
-- Passwords are set by ops/stack.sh from the environment, never here.
--   crm_owner   owns the CRM schema and the Debezium publication (the DBA's role)
--   debezium    REPLICATION + SELECT on captured tables only (granted by `connectors apply`)
--   cdc_writer  cdc-sync's service role: its own schema cdc_sync, DML on CRM tables, no DDL there
--   registry    Apicurio Registry's storage
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['crm_owner', 'debezium', 'cdc_writer', 'registry'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I LOGIN', r);
    END IF;
  END LOOP;
END $$;
ALTER ROLE debezium REPLICATION;

SELECT 'CREATE DATABASE crm OWNER crm_owner'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'crm') \gexec
SELECT 'CREATE DATABASE registry OWNER registry'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'registry') \gexec

REVOKE ALL ON DATABASE crm FROM PUBLIC;
GRANT CONNECT ON DATABASE crm TO debezium, cdc_writer;
-- cdc_writer creates its own schema (cdc_sync) for the service's state.
GRANT CREATE ON DATABASE crm TO cdc_writer;
