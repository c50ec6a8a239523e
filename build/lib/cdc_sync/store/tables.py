"""cdc-sync's own state, in schema `cdc_sync` of the CRM database (SQLAlchemy Core)."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from cdc_sync.store.sealed import SealedJson

SCHEMA = "cdc_sync"
metadata = MetaData(schema=SCHEMA)
Json = JSON().with_variant(JSONB(), "postgresql")


def _now() -> Column[object]:
    return Column("at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _position() -> list[Column[object]]:
    """Where the change came from, so any record leads back to Kafka and the WAL."""
    return [
        Column("topic", String),
        Column("kafka_partition", Integer),
        Column("kafka_offset", BigInteger),
        Column("lsn", BigInteger),
        Column("commit_ts", DateTime(timezone=True)),
    ]


# Every attempt to deliver a change: the sync log, queryable by time and object.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _now(),
    Column("destination", String, nullable=False),
    Column("entity", String, nullable=False),
    Column("table_name", String, nullable=False),
    Column("operation", String, nullable=False),
    Column("idempotency_key", String, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Float, nullable=False),
    Column("error", Text),
    *_position(),
    Index("deliveries_entity_at", "entity", "at"),
    Index("deliveries_destination_at", "destination", "at"),
    Index("deliveries_at", "at"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _now(),
    Column("destination", String),
    Column("entity", String),
    Column("table_name", String),
    Column("reason", Text, nullable=False),
    Column("payload", SealedJson("dead_letters.payload")),
    Column("response", SealedJson("dead_letters.response")),
    Column("idempotency_key", String),
    Column("status", String, nullable=False, server_default="open"),
    *_position(),
    # Replayed or discarded: when, by whom, and what happened (replay outcome, discard reason).
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", Text),
    Column("resolution", Json),
    Index("dead_letters_status_at", "status", "at"),
)

destination_state = Table(
    "destination_state",
    metadata,
    Column("name", String, primary_key=True),
    Column("state", String, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("reason", Text),
    Column("incident_id", BigInteger),
    Column("rollout", Float),  # set by `destinations rollout`: wins over the file's share
)

# Deliveries of a paused destination, waiting (in order) for `destinations resume`.
held_deliveries = Table(
    "held_deliveries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    _now(),
    Column("destination", String, nullable=False),
    Column("entity", String, nullable=False),
    Column("idempotency_key", String, nullable=False),
    Column("delivery", SealedJson("held_deliveries.delivery"), nullable=False),
    Column("reason", Text),
    Index("held_destination_seq", "destination", "seq"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _now(),
    Column("severity", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("destination", String),
    Column("message", Text, nullable=False),
    Column("details", Json),
    Column("recipients", Json),
    Column("notified", Boolean, nullable=False, server_default="false"),
    Index("alerts_at", "at"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("destination", String),
    Column("kind", String, nullable=False),
    Column("status", String, nullable=False, server_default="open"),
    Column("summary", Text, nullable=False),
    Column("details", Json),
    Column("resolved_at", DateTime(timezone=True)),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _now(),
    Column("actor", String, nullable=False),
    Column("action", String, nullable=False),
    Column("object", String),
    Column("before", Json),
    Column("after", Json),
    Column("details", Json),
    Column("prev_hash", Text),  # the chain (store.audit): the row before's hash
    Column("hash", Text),
    Index("audit_object_at", "object", "at"),
)

# Vendor events, committed before the webhook is answered; the writer applies them in order.
inbox = Table(
    "inbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("source", String, nullable=False),
    Column("event_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("entity", String, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("data", SealedJson("inbox.data"), nullable=False),
    Column("status", String, nullable=False, server_default="pending"),
    Column("result", Text),
    Column("processed_at", DateTime(timezone=True)),
    Column("priority", SmallInteger, nullable=False, server_default="1"),  # InboundEvent.priority
    UniqueConstraint("source", "event_id", name="inbox_source_event_id"),
    Index("inbox_pending", "status", "id"),
    Index("inbox_pending_priority", "status", "priority", "id"),
    Index("inbox_unmatched_entity", "entity", postgresql_where=text("status = 'unmatched'")),
)

# Vendor writes that were not applied: not the vendor's field, or the CRM changed the row since.
conflicts = Table(
    "conflicts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _now(),
    Column("source", String, nullable=False),
    Column("event_id", String, nullable=False),
    Column("table_name", String, nullable=False),
    Column("row_id", BigInteger, nullable=False),
    Column("field", String, nullable=False),
    Column("crm_value", SealedJson("conflicts.crm_value")),
    Column("vendor_value", SealedJson("conflicts.vendor_value")),
    Column("reason", Text, nullable=False),
    # vendor_write: a vendor's value not taken; crm_correction: a CRM correction the vendor refused
    Column("kind", String, nullable=False, server_default="vendor_write"),
    # crm_correction: the destination and the refused request
    Column("details", SealedJson("conflicts.details")),
    Column("status", String, nullable=False, server_default="open"),
    Column("resolution", String),
    Column("resolved_by", String),
    Column("resolved_at", DateTime(timezone=True)),
    Index("conflicts_status", "status", "id"),
)

# Per CRM field written on a vendor's behalf: the time of the newest vendor event applied to it, so
# an older event delivered later (a retry, a reordering) is recognized as stale and not applied.
field_versions = Table(
    "field_versions",
    metadata,
    Column("table_name", String, primary_key=True),
    Column("row_key", String, primary_key=True),
    Column("field", String, primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("source", String, nullable=False),
    Column("event_id", String, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The vendor's own id of a CRM object it answered a delivery with (a helpdesk user id for a
# contact), so the vendor's events, which name only its ids, lead back to the CRM row.
vendor_refs = Table(
    "vendor_refs",
    metadata,
    Column("system", String, primary_key=True),
    Column("vendor_ref", String, primary_key=True),
    Column("entity", String, nullable=False),  # "table:key", as deliveries name it
    Column("destination", String, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Vendor events that name several CRM contacts (one email, two contacts): one open review per
# match key ("email:<address>"); the events wait (inbox status `ambiguous`) until an operator says
# which contact is meant, and later events with that key go to it.
merge_reviews = Table(
    "merge_reviews",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _now(),
    Column("match_key", String, nullable=False),
    Column("candidates", Json, nullable=False),  # the contact ids, ascending
    Column("source", String, nullable=False),  # the first event that met the ambiguity
    Column("event_id", String, nullable=False),
    Column("status", String, nullable=False, server_default="open"),
    Column("kept_contact", BigInteger),
    Column("resolved_by", String),
    Column("resolved_at", DateTime(timezone=True)),
    Index("merge_reviews_open_key", "match_key", unique=True, postgresql_where=text("status = 'open'")),
    Index("merge_reviews_key", "match_key", "resolved_at"),
)

# Where a backfill from a vendor got to (its cursor, opaque to the core), written in the same
# transaction as the page's events: a backfill killed at any point resumes after its last page.
backfill_cursors = Table(
    "backfill_cursors",
    metadata,
    Column("name", String, primary_key=True),  # "<system>:<destination>"
    Column("position", String, nullable=False),
    Column("since", DateTime(timezone=True)),
    Column("pages", Integer, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Console operators (`cdc-sync operators add`): a scrypt hash of the password, never the password.
operators = Table(
    "operators",
    metadata,
    Column("name", String, primary_key=True),
    Column("password_hash", String, nullable=False),
    Column("role", String, nullable=False),  # viewer | operator | admin
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", String, nullable=False),
)

# Console sessions, server-side: the cookie holds a random token, the table only its SHA-256.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String, primary_key=True),
    Column("operator", String, nullable=False),
    Column("csrf", String, nullable=False),  # the token every form of the session must carry
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Data-subject requests (`cdc-sync privacy erase|correct contact:N`): one row per request, its steps
# (one per destination, then cdc-sync's own tables) and each step's outcome, so a re-run continues
# the steps not yet done. No personal data: the contact's id, step names, outcomes, redacted errors.
privacy_requests = Table(
    "privacy_requests",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _now(),
    Column("kind", String, nullable=False),  # erase | correct
    Column("entity", String, nullable=False),  # "contact:<id>"
    Column("requested_by", String, nullable=False),
    Column("status", String, nullable=False, server_default="open"),  # open | done
    Column("steps", Json, nullable=False),  # step → {"outcome": ..., "detail": ...}
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Index("privacy_requests_open", "kind", "entity", unique=True, postgresql_where=text("status = 'open'")),
)
