"""Prometheus metrics (prometheus-client). Names follow `cdc_sync_<what>_<unit|total>`."""

from collections.abc import Mapping, Set

from prometheus_client import Counter, Gauge, Histogram

Labels = tuple[str, ...]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

DELIVERIES = Counter(
    "cdc_sync_deliveries_total", "Delivery attempts by destination and outcome", ["destination", "outcome"]
)
API_ERRORS = Counter(
    "cdc_sync_api_errors_total", "Vendor API errors by status class", ["destination", "status_class"]
)
ROWS_PRUNED = Counter("cdc_sync_rows_pruned_total", "Rows removed by the retention rules", ["table"])
RETRIES = Counter("cdc_sync_retries_total", "Retried delivery attempts", ["destination"])
RETRIED_DELIVERIES = Counter(
    "cdc_sync_retried_deliveries_total",
    "Deliveries that needed a retry, by how they ended (succeeded, failed): the retry success rate",
    ["destination", "outcome"],
)
RATE_LIMIT_HITS = Counter("cdc_sync_rate_limit_hits_total", "429 responses from vendors", ["destination"])
REQUEST_LATENCY = Histogram(
    "cdc_sync_request_latency_seconds", "Vendor request latency", ["destination"], buckets=_LATENCY_BUCKETS
)
END_TO_END_LATENCY = Histogram(
    "cdc_sync_end_to_end_latency_seconds",
    "Source commit to vendor acknowledgement",
    ["destination"],
    buckets=_LATENCY_BUCKETS,
)
DEAD_LETTERS = Counter("cdc_sync_dead_letters_total", "Dead-lettered events", ["destination", "kind"])
CONTRACT_VIOLATIONS = Counter(
    "cdc_sync_contract_violations_total", "Events breaking their contract", ["table"]
)
UNKNOWN_ENUM_VALUES = Counter(
    "cdc_sync_unknown_enum_values_total", "Enum values outside the whitelist, mapped to Other", ["field"]
)
REJECTED_TAGS = Counter("cdc_sync_rejected_tags_total", "Tags filtered out by sanitization", ["destination"])
ECHOES_SUPPRESSED = Counter(
    "cdc_sync_echoes_suppressed_total", "Changes not sent back to the system that wrote them", ["destination"]
)
PAUSED = Gauge("cdc_sync_destination_paused", "1 while a destination is paused", ["destination"])
ROLLOUT_SHARE = Gauge("cdc_sync_rollout_share", "The share of contacts a destination syncs", ["destination"])
OUTSIDE_ROLLOUT = Counter(
    "cdc_sync_outside_rollout_total",
    "Changes not sent: their contact is outside the rollout",
    ["destination"],
)
REFUSED_CORRECTIONS = Counter(
    "cdc_sync_refused_corrections_total",
    "CRM corrections a vendor refused as changed meanwhile (open conflicts)",
    ["destination"],
)
DEPENDENCY_UP = Gauge(
    "cdc_sync_dependency_up",
    "0 while a part cdc-sync run needs (registry, database) is unavailable",
    ["dependency"],
)
ALERTS = Counter("cdc_sync_alerts_total", "Alerts raised", ["severity", "kind"])
EVENTS = Counter("cdc_sync_events_total", "Change events consumed", ["table"])
WEBHOOKS = Counter(
    "cdc_sync_webhooks_total", "Inbound vendor webhooks by source and outcome", ["source", "outcome"]
)
WEBHOOK_SIGNATURE_FAILURES = Counter(
    "cdc_sync_webhook_signature_failures_total", "Inbound webhooks refused as forged or stale", ["source"]
)
LIVE_SENT = Counter(
    "cdc_sync_live_notices_sent_total", "Live notices sent to followers (SSE), per follower", ["channel"]
)
LIVE_DROPPED = Counter(
    "cdc_sync_live_notices_dropped_total", "Live notices a slow follower lost (its oldest)", ["channel"]
)
INBOUND_LATENCY = Histogram(
    "cdc_sync_inbound_end_to_end_latency_seconds",
    "Webhook receipt to CRM commit",
    ["source"],
    buckets=_LATENCY_BUCKETS,
)
INBOUND_EVENTS = Counter(
    "cdc_sync_inbound_events_total", "Vendor events applied by the writer, by outcome", ["source", "outcome"]
)
DEAD_LETTERS_OPEN = Gauge("cdc_sync_dead_letters_open", "Open dead letters (DLQ depth)", ["destination"])
DEAD_LETTER_OLDEST_AGE = Gauge(
    "cdc_sync_dead_letter_oldest_age_seconds", "Age of the oldest open dead letter", ["destination"]
)
CONSUMER_LAG = Gauge(
    "cdc_sync_consumer_lag_messages", "End offset minus committed offset", ["topic", "partition"]
)
REPLICATION_SLOT_LAG = Gauge(
    "cdc_sync_replication_slot_lag_bytes", "WAL retained for the slot, not yet confirmed", ["slot"]
)
REPLICATION_SLOT_PRESENT = Gauge(
    "cdc_sync_replication_slot_present",
    "1 while the replication slot a connector config names exists in PostgreSQL",
    ["slot"],
)
CONNECTOR_RUNNING = Gauge(
    "cdc_sync_connector_running",
    "1 while the connector and all its tasks are RUNNING in Kafka Connect",
    ["connector"],
)
CONNECTOR_TASK_STATE = Gauge(
    "cdc_sync_connector_task_state",
    "1 for the state a connector's task is in now in Kafka Connect, 0 for the other states",
    ["connector", "task", "state"],
)
CRM_ROWS_CHANGED = Counter(
    "cdc_sync_crm_rows_changed_total",
    "Rows the CRM inserted, updated or deleted in a table cdc-sync run consumes (PostgreSQL's statistics)",
    ["table"],
)
RECONCILE_DIFFERENCE_RATIO = Gauge(
    "cdc_sync_reconcile_difference_ratio",
    "Share of records that differ between the CRM and the vendor at the last reconciliation",
    ["destination"],
)
LOOP_STALL = Histogram(
    "cdc_sync_event_loop_stall_seconds",
    "How late the event loop ran a timer of `cdc-sync run`: the time everything else waited for it",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
LOOP_LONGEST_STALL = Gauge(
    "cdc_sync_event_loop_longest_stall_seconds", "The longest event loop stall since the process started"
)
RECONCILE_RECORDS = Counter(
    "cdc_sync_reconcile_records_total",
    "Records compared by reconciliation, by result",
    ["destination", "result"],
)


def publish(gauge: Gauge, readings: Mapping[Labels, float], shown: Set[Labels]) -> set[Labels]:
    """Set a labelled gauge to these readings and drop the label sets `shown` before but not read now
    (a revoked partition, a dropped slot); returns the label sets shown from now on."""
    for labels, value in readings.items():
        gauge.labels(*labels).set(value)
    for labels in shown - readings.keys():
        gauge.remove(*labels)
    return set(readings)
