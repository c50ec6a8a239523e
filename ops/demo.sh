#!/usr/bin/env bash
# The demo so far, on the running stack (make demo brings it up first):
#   1. a CRM row change travels PostgreSQL -> Debezium -> Kafka (Avro, registry) and is decoded;
#   2. ops/demo.py: the A-1 tag sync and the D-2 escalation / pause / resume stories.
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
$CLI connectors status
echo "   the same changes, read from Kafka and decoded by cdc-sync:"
seen=$($CLI events tail --topic crm.public.contacts --from-beginning --idle-timeout 15 | grep " id=$id " || true)
echo "$seen" | sed 's/^/   /'
[[ $(grep -c . <<<"$seen") -ge 2 ]] || { echo "demo: the changes did not arrive in Kafka" >&2; exit 1; }

.venv/bin/python ops/demo.py

echo "== the operator console"
password="demo-console-$(date +%s)"
$CLI operators add demo-operator --role operator --password-stdin <<<"$password"
echo "   start it with .venv/bin/cdc-sync serve, open http://127.0.0.1:8000/console/"
echo "   (or .venv/bin/cdc-sync console: http://127.0.0.1:8010/console/)"
echo "   and log in as demo-operator / $password"
