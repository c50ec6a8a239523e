# ruff: noqa: E501  (frozen DDL, as pg_dump wrote it)
"""Baseline: schema cdc_sync as the numbered steps 1 to 14 left it, frozen DDL.

Not the models of the day: a later change of tables.py needs a new revision.

Revision ID: 0001
Revises: none
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

BASELINE = """
CREATE FUNCTION cdc_sync.prune_audit(cutoff timestamp with time zone, batch integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog'
    AS $$
DECLARE gone integer;
BEGIN
  IF cutoff > now() - interval '1 day' THEN
    RAISE EXCEPTION 'audit rows are kept at least a day (cutoff %)', cutoff;
  END IF;
  DELETE FROM cdc_sync.audit_log WHERE id IN (
    SELECT id FROM cdc_sync.audit_log WHERE at < cutoff ORDER BY id LIMIT batch);
  GET DIAGNOSTICS gone = ROW_COUNT;
  RETURN gone;
END $$;

CREATE TABLE cdc_sync.alerts (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    severity character varying NOT NULL,
    kind character varying NOT NULL,
    destination character varying,
    message text NOT NULL,
    details jsonb,
    recipients jsonb,
    notified boolean DEFAULT false NOT NULL
);

CREATE SEQUENCE cdc_sync.alerts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.alerts_id_seq OWNED BY cdc_sync.alerts.id;

CREATE TABLE cdc_sync.audit_log (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    actor character varying NOT NULL,
    action character varying NOT NULL,
    object character varying,
    before jsonb,
    after jsonb,
    details jsonb,
    prev_hash text,
    hash text
);

CREATE SEQUENCE cdc_sync.audit_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.audit_log_id_seq OWNED BY cdc_sync.audit_log.id;

CREATE TABLE cdc_sync.backfill_cursors (
    name character varying NOT NULL,
    "position" character varying NOT NULL,
    since timestamp with time zone,
    pages integer NOT NULL,
    records bigint NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE cdc_sync.conflicts (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    source character varying NOT NULL,
    event_id character varying NOT NULL,
    table_name character varying NOT NULL,
    row_id bigint NOT NULL,
    field character varying NOT NULL,
    crm_value jsonb,
    vendor_value jsonb,
    reason text NOT NULL,
    kind character varying DEFAULT 'vendor_write'::character varying NOT NULL,
    details jsonb,
    status character varying DEFAULT 'open'::character varying NOT NULL,
    resolution character varying,
    resolved_by character varying,
    resolved_at timestamp with time zone
);

CREATE SEQUENCE cdc_sync.conflicts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.conflicts_id_seq OWNED BY cdc_sync.conflicts.id;

CREATE TABLE cdc_sync.console_sessions (
    token_hash character varying NOT NULL,
    operator character varying NOT NULL,
    csrf character varying NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

CREATE TABLE cdc_sync.dead_letters (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    destination character varying,
    entity character varying,
    table_name character varying,
    reason text NOT NULL,
    payload jsonb,
    response jsonb,
    idempotency_key character varying,
    status character varying DEFAULT 'open'::character varying NOT NULL,
    topic character varying,
    kafka_partition integer,
    kafka_offset bigint,
    lsn bigint,
    commit_ts timestamp with time zone,
    resolved_at timestamp with time zone,
    resolved_by text,
    resolution jsonb
);

CREATE SEQUENCE cdc_sync.dead_letters_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.dead_letters_id_seq OWNED BY cdc_sync.dead_letters.id;

CREATE TABLE cdc_sync.deliveries (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    destination character varying NOT NULL,
    entity character varying NOT NULL,
    table_name character varying NOT NULL,
    operation character varying NOT NULL,
    idempotency_key character varying NOT NULL,
    attempt integer NOT NULL,
    outcome character varying NOT NULL,
    status_code integer,
    latency_ms double precision NOT NULL,
    error text,
    topic character varying,
    kafka_partition integer,
    kafka_offset bigint,
    lsn bigint,
    commit_ts timestamp with time zone
);

CREATE SEQUENCE cdc_sync.deliveries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.deliveries_id_seq OWNED BY cdc_sync.deliveries.id;

CREATE TABLE cdc_sync.destination_state (
    name character varying NOT NULL,
    state character varying NOT NULL,
    changed_at timestamp with time zone DEFAULT now() NOT NULL,
    reason text,
    incident_id bigint,
    rollout double precision
);

CREATE TABLE cdc_sync.field_versions (
    table_name character varying NOT NULL,
    row_key character varying NOT NULL,
    field character varying NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    source character varying NOT NULL,
    event_id character varying NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE cdc_sync.held_deliveries (
    seq bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    destination character varying NOT NULL,
    entity character varying NOT NULL,
    idempotency_key character varying NOT NULL,
    delivery jsonb NOT NULL,
    reason text
);

CREATE SEQUENCE cdc_sync.held_deliveries_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.held_deliveries_seq_seq OWNED BY cdc_sync.held_deliveries.seq;

CREATE TABLE cdc_sync.inbox (
    id bigint NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    source character varying NOT NULL,
    event_id character varying NOT NULL,
    kind character varying NOT NULL,
    entity character varying NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    data jsonb NOT NULL,
    status character varying DEFAULT 'pending'::character varying NOT NULL,
    result text,
    processed_at timestamp with time zone,
    priority smallint DEFAULT '1'::smallint NOT NULL
);

CREATE SEQUENCE cdc_sync.inbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.inbox_id_seq OWNED BY cdc_sync.inbox.id;

CREATE TABLE cdc_sync.incidents (
    id bigint NOT NULL,
    opened_at timestamp with time zone DEFAULT now() NOT NULL,
    destination character varying,
    kind character varying NOT NULL,
    status character varying DEFAULT 'open'::character varying NOT NULL,
    summary text NOT NULL,
    details jsonb,
    resolved_at timestamp with time zone
);

CREATE SEQUENCE cdc_sync.incidents_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.incidents_id_seq OWNED BY cdc_sync.incidents.id;

CREATE TABLE cdc_sync.merge_reviews (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    match_key character varying NOT NULL,
    candidates jsonb NOT NULL,
    source character varying NOT NULL,
    event_id character varying NOT NULL,
    status character varying DEFAULT 'open'::character varying NOT NULL,
    kept_contact bigint,
    resolved_by character varying,
    resolved_at timestamp with time zone
);

CREATE SEQUENCE cdc_sync.merge_reviews_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.merge_reviews_id_seq OWNED BY cdc_sync.merge_reviews.id;

CREATE TABLE cdc_sync.operators (
    name character varying NOT NULL,
    password_hash character varying NOT NULL,
    role character varying NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by character varying NOT NULL
);

CREATE TABLE cdc_sync.privacy_requests (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    kind character varying NOT NULL,
    entity character varying NOT NULL,
    requested_by character varying NOT NULL,
    status character varying DEFAULT 'open'::character varying NOT NULL,
    steps jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone
);

CREATE SEQUENCE cdc_sync.privacy_requests_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cdc_sync.privacy_requests_id_seq OWNED BY cdc_sync.privacy_requests.id;

CREATE TABLE cdc_sync.vendor_refs (
    system character varying NOT NULL,
    vendor_ref character varying NOT NULL,
    entity character varying NOT NULL,
    destination character varying NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY cdc_sync.alerts ALTER COLUMN id SET DEFAULT nextval('cdc_sync.alerts_id_seq'::regclass);

ALTER TABLE ONLY cdc_sync.audit_log ALTER COLUMN id SET DEFAULT nextval('cdc_sync.audit_log_id_seq'::regclass);

ALTER TABLE ONLY cdc_sync.conflicts ALTER COLUMN id SET DEFAULT nextval('cdc_sync.conflicts_id_seq'::regclass);

ALTER TABLE ONLY cdc_sync.dead_letters ALTER COLUMN id SET DEFAULT nextval('cdc_sync.dead_letters_id_seq'::regclass);

ALTER TABLE ONLY cdc_sync.deliveries ALTER COLUMN id SET DEFAULT nextval('cdc_sync.deliveries_id_seq'::regclass);

ALTER TABLE ONLY cdc_sync.held_deliveries ALTER COLUMN seq SET DEFAULT nextval('cdc_sync.held_deliveries_seq_seq'::regclass);

ALTER TABLE ONLY cdc_sync.inbox ALTER COLUMN id SET DEFAULT nextval('cdc_sync.inbox_id_seq'::regclass);

ALTER TABLE ONLY cdc_sync.incidents ALTER COLUMN id SET DEFAULT nextval('cdc_sync.incidents_id_seq'::regclass);

ALTER TABLE ONLY cdc_sync.merge_reviews ALTER COLUMN id SET DEFAULT nextval('cdc_sync.merge_reviews_id_seq'::regclass);

ALTER TABLE ONLY cdc_sync.privacy_requests ALTER COLUMN id SET DEFAULT nextval('cdc_sync.privacy_requests_id_seq'::regclass);

ALTER TABLE ONLY cdc_sync.alerts
    ADD CONSTRAINT alerts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cdc_sync.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cdc_sync.backfill_cursors
    ADD CONSTRAINT backfill_cursors_pkey PRIMARY KEY (name);

ALTER TABLE ONLY cdc_sync.conflicts
    ADD CONSTRAINT conflicts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cdc_sync.console_sessions
    ADD CONSTRAINT console_sessions_pkey PRIMARY KEY (token_hash);

ALTER TABLE ONLY cdc_sync.dead_letters
    ADD CONSTRAINT dead_letters_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cdc_sync.deliveries
    ADD CONSTRAINT deliveries_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cdc_sync.destination_state
    ADD CONSTRAINT destination_state_pkey PRIMARY KEY (name);

ALTER TABLE ONLY cdc_sync.field_versions
    ADD CONSTRAINT field_versions_pkey PRIMARY KEY (table_name, row_key, field);

ALTER TABLE ONLY cdc_sync.held_deliveries
    ADD CONSTRAINT held_deliveries_pkey PRIMARY KEY (seq);

ALTER TABLE ONLY cdc_sync.inbox
    ADD CONSTRAINT inbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cdc_sync.inbox
    ADD CONSTRAINT inbox_source_event_id UNIQUE (source, event_id);

ALTER TABLE ONLY cdc_sync.incidents
    ADD CONSTRAINT incidents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cdc_sync.merge_reviews
    ADD CONSTRAINT merge_reviews_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cdc_sync.operators
    ADD CONSTRAINT operators_pkey PRIMARY KEY (name);

ALTER TABLE ONLY cdc_sync.privacy_requests
    ADD CONSTRAINT privacy_requests_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cdc_sync.vendor_refs
    ADD CONSTRAINT vendor_refs_pkey PRIMARY KEY (system, vendor_ref);

CREATE INDEX alerts_at ON cdc_sync.alerts USING btree (at);

CREATE INDEX audit_object_at ON cdc_sync.audit_log USING btree (object, at);

CREATE INDEX conflicts_status ON cdc_sync.conflicts USING btree (status, id);

CREATE INDEX dead_letters_status_at ON cdc_sync.dead_letters USING btree (status, at);

CREATE INDEX deliveries_at ON cdc_sync.deliveries USING btree (at);

CREATE INDEX deliveries_destination_at ON cdc_sync.deliveries USING btree (destination, at);

CREATE INDEX deliveries_entity_at ON cdc_sync.deliveries USING btree (entity, at);

CREATE INDEX held_destination_seq ON cdc_sync.held_deliveries USING btree (destination, seq);

CREATE INDEX inbox_pending ON cdc_sync.inbox USING btree (status, id);

CREATE INDEX inbox_pending_priority ON cdc_sync.inbox USING btree (status, priority, id);

CREATE INDEX inbox_unmatched_entity ON cdc_sync.inbox USING btree (entity) WHERE ((status)::text = 'unmatched'::text);

CREATE INDEX merge_reviews_key ON cdc_sync.merge_reviews USING btree (match_key, resolved_at);

CREATE UNIQUE INDEX merge_reviews_open_key ON cdc_sync.merge_reviews USING btree (match_key) WHERE ((status)::text = 'open'::text);

CREATE UNIQUE INDEX privacy_requests_open ON cdc_sync.privacy_requests USING btree (kind, entity) WHERE ((status)::text = 'open'::text);
"""


def upgrade() -> None:
    op.execute(sa.text(BASELINE))


def downgrade() -> None:
    raise NotImplementedError("cdc_sync's schema is only migrated forward (restore a backup to go back)")
