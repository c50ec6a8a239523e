-- Roles and databases of the demo stack. Run as superuser; idempotent.
-- Passwords are set by ops/stack.sh from the environment, never here.
--   crm_owner   owns the CRM schema and the Debezium publication (the DBA's role)
--   debezium    REPLICATION + SELECT on captured tables only (granted by `connectors apply`)
--   cdc-sync's roles, one per process (grants: `cdc-sync db migrate` on its schema cdc_sync,
--   `cdc-sync db grant` on the CRM's tables; cdc_sync/store/grants.py says who gets what):
--   cdc_owner     owns schema cdc_sync, runs the migrations (the only one with DDL)
--   cdc_serve     serve's webhook side: appends to the inbox, nothing on CRM tables
--   cdc_writer    the inbound writer: the CRM tables its handlers write
--   cdc_runner    `run`: reads the CRM, its own delivery state
--   cdc_operator  the CLI's operator commands and the console
--   cdc_auditor   reads the audit log and the delivery ledger
--   registry      Apicurio Registry's storage
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['crm_owner', 'debezium', 'registry', 'cdc_owner', 'cdc_serve', 'cdc_writer', 'cdc_runner', 'cdc_operator', 'cdc_auditor'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I LOGIN', r);
    END IF;
  END LOOP;
END $$;
ALTER ROLE debezium REPLICATION;
-- The dev stack's migration role may make throwaway databases (the upgrade-from-empty test).
ALTER ROLE cdc_owner CREATEDB;

SELECT 'CREATE DATABASE crm OWNER crm_owner'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'crm') \gexec
SELECT 'CREATE DATABASE registry OWNER registry'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'registry') \gexec

REVOKE ALL ON DATABASE crm FROM PUBLIC;
GRANT CONNECT ON DATABASE crm TO debezium, cdc_owner, cdc_serve, cdc_writer, cdc_runner, cdc_operator, cdc_auditor;
-- cdc_owner creates cdc-sync's own schema (cdc_sync); no service role has DDL.
GRANT CREATE ON DATABASE crm TO cdc_owner;
REVOKE CREATE ON DATABASE crm FROM cdc_writer;  -- it had it before the roles were split
