#!/usr/bin/env bash
# docker-entrypoint-initdb.d hook: the same roles and schema ops/stack.sh applies natively.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U postgres -d postgres -f /cdc-sync-crm/00-roles-and-databases.sql
psql -v ON_ERROR_STOP=1 -U postgres -d postgres -c "ALTER ROLE crm_owner PASSWORD '${CDC_SYNC_CRM_OWNER_PASSWORD}'; ALTER ROLE debezium PASSWORD '${CDC_SYNC_DEBEZIUM_PASSWORD}'; ALTER ROLE cdc_writer PASSWORD '${CDC_SYNC_WRITER_PASSWORD}'; ALTER ROLE registry PASSWORD '${CDC_SYNC_REGISTRY_DB_PASSWORD}';"
for sql in /cdc-sync-crm/0[1-9]-*.sql; do  # 01 the CRM, 02 the call center, ... in order
  psql -v ON_ERROR_STOP=1 -U crm_owner -d crm -f "$sql"
done
