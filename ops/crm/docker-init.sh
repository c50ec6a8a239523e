#!/usr/bin/env bash
# docker-entrypoint-initdb.d hook: the same roles and schema ops/stack.sh applies natively.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U postgres -d postgres -f /cdc-sync-crm/00-roles-and-databases.sql
for pair in crm_owner:CRM_OWNER debezium:DEBEZIUM registry:REGISTRY_DB cdc_owner:OWNER cdc_serve:SERVE \
  cdc_writer:WRITER cdc_runner:RUNNER cdc_operator:OPERATOR cdc_auditor:AUDITOR; do
  var="CDC_SYNC_${pair#*:}_PASSWORD"
  echo "ALTER ROLE ${pair%%:*} PASSWORD :'pw'" | psql -v ON_ERROR_STOP=1 -U postgres -d postgres -v pw="${!var}"
done
for sql in /cdc-sync-crm/0[1-9]-*.sql; do  # 01 the CRM, 02 the call center, ... in order
  psql -v ON_ERROR_STOP=1 -U crm_owner -d crm -f "$sql"
done
