#!/usr/bin/env bash
# The demo story so far: a CRM row change travels PostgreSQL -> Debezium -> Kafka (Avro,
# schema registry) and is decoded by cdc-sync. Run through `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=.venv/bin/cdc-sync
PSQL=(psql -X -q -t -A -v ON_ERROR_STOP=1 "${CDC_SYNC_CRM_ADMIN_DSN/+psycopg/}")
email="demo-$(date +%s)@example.com"

echo "== 1. CRM: a new contact, then an update"
id=$("${PSQL[@]}" -c "INSERT INTO contacts (first_name, last_name, email, phone, country, health_score)
                      VALUES ('Dana', 'Demo', '$email', '+49 30 1234567', 'DE', 72.5) RETURNING id")
"${PSQL[@]}" -c "UPDATE contacts SET health_score = 80 WHERE id = $id"
echo "   contact $id <$email> inserted and updated"

echo "== 2. Connector and replication slot"
$CLI connectors status

echo "== 3. The same changes, read from Kafka and decoded by cdc-sync"
seen=$($CLI events tail --topic crm.public.contacts --from-beginning --idle-timeout 15 | grep " id=$id " || true)
echo "$seen" | sed 's/^/   /'
[[ $(grep -c . <<<"$seen") -ge 2 ]] || { echo "demo: the changes did not arrive in Kafka" >&2; exit 1; }
echo "== done: the CRM change arrived decoded. Stop the stack with: make stack-down"
