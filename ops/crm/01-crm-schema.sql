-- The demo CRM (database crm, schema public). Run as crm_owner; idempotent.
-- A real CRM's schema exists before cdc-sync; this one exists so the stories can be followed.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- updated_at on every write; version bumped on every update of versioned tables (optimistic checks);
-- sync_origin records which system wrote this row version ('' or NULL = the CRM itself). The
-- inbound writer sets `SET LOCAL cdc_sync.origin = '<vendor>'` so its writes carry the marker
-- into the change stream, and the outbound pipeline does not echo them back.
CREATE OR REPLACE FUNCTION crm_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  NEW.sync_origin := nullif(current_setting('cdc_sync.origin', true), '');
  IF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'versioned' THEN
    NEW.version := OLD.version + 1;
  END IF;
  RETURN NEW;
END $$;

CREATE TABLE IF NOT EXISTS users (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE,
  role text NOT NULL CHECK (role IN ('sales', 'finance', 'customer_success', 'integration', 'business_owner')),
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS contacts (
  id bigserial PRIMARY KEY,
  first_name text,
  last_name text,
  email text,
  phone text,
  country text,
  locale text,
  timezone text,
  owner_id bigint REFERENCES users (id),
  lifecycle_stage text NOT NULL DEFAULT 'lead',
  health_score numeric(5, 2),
  csat_last smallint,
  version integer NOT NULL DEFAULT 1,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS contacts_email_idx ON contacts (lower(email));
CREATE INDEX IF NOT EXISTS contacts_phone_idx ON contacts (phone);
CREATE INDEX IF NOT EXISTS contacts_owner_idx ON contacts (owner_id);
CREATE INDEX IF NOT EXISTS contacts_updated_idx ON contacts (updated_at);

CREATE TABLE IF NOT EXISTS tags (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS contact_tags (
  contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  tag_id bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
  tagged_at timestamptz NOT NULL DEFAULT now(),
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (contact_id, tag_id)
);
CREATE INDEX IF NOT EXISTS contact_tags_tag_idx ON contact_tags (tag_id);

CREATE TABLE IF NOT EXISTS subscriptions (
  contact_id bigint PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
  list_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('subscribed', 'unsubscribed', 'pending', 'cleaned')),
  consent_timestamp timestamptz,
  consent_source text,
  unsubscribed_at timestamptz,
  version integer NOT NULL DEFAULT 1,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS subscriptions_status_idx ON subscriptions (status);

CREATE TABLE IF NOT EXISTS campaigns (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  external_id text NOT NULL UNIQUE,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS activities (
  id bigserial PRIMARY KEY,
  contact_id bigint REFERENCES contacts (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('email_open', 'email_click', 'ticket', 'payment', 'note')),
  source text NOT NULL,
  source_event_id text,
  campaign_id bigint REFERENCES campaigns (id),
  occurred_at timestamptz NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'::jsonb,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source, source_event_id)
);
CREATE INDEX IF NOT EXISTS activities_contact_idx ON activities (contact_id, occurred_at DESC);

CREATE TABLE IF NOT EXISTS tickets (
  id bigserial PRIMARY KEY,
  external_id text UNIQUE,
  contact_id bigint REFERENCES contacts (id) ON DELETE SET NULL,
  subject text NOT NULL,
  status text NOT NULL DEFAULT 'Open'
    CHECK (status IN ('Open', 'Pending', 'OnHold', 'Resolved', 'Closed', 'Reopened')),
  priority text NOT NULL DEFAULT 'Normal' CHECK (priority IN ('Low', 'Normal', 'High', 'Urgent')),
  channel text NOT NULL DEFAULT 'Other' CHECK (channel IN ('Chat', 'Email', 'Social', 'Phone', 'Other')),
  csat smallint CHECK (csat BETWEEN 0 AND 100),
  version integer NOT NULL DEFAULT 1,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tickets_contact_idx ON tickets (contact_id);

CREATE TABLE IF NOT EXISTS opportunities (
  id bigserial PRIMARY KEY,
  contact_id bigint REFERENCES contacts (id) ON DELETE SET NULL,
  name text NOT NULL,
  stage text NOT NULL DEFAULT 'prospecting',
  amount numeric(14, 2),
  currency char(3) NOT NULL DEFAULT 'USD',
  collection_progress numeric(5, 2) NOT NULL DEFAULT 0,
  billing_status text NOT NULL DEFAULT 'unbilled'
    CHECK (billing_status IN ('unbilled', 'partially_collected', 'collected', 'refunded', 'needs_verification')),
  version integer NOT NULL DEFAULT 1,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS opportunities_contact_idx ON opportunities (contact_id);

CREATE TABLE IF NOT EXISTS contracts (
  id bigserial PRIMARY KEY,
  contract_no text NOT NULL UNIQUE,
  opportunity_id bigint REFERENCES opportunities (id) ON DELETE SET NULL,
  amount numeric(14, 2) NOT NULL,
  currency char(3) NOT NULL DEFAULT 'USD',
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS orders (
  id bigserial PRIMARY KEY,
  order_no text NOT NULL UNIQUE,
  contract_id bigint REFERENCES contracts (id) ON DELETE SET NULL,
  opportunity_id bigint REFERENCES opportunities (id) ON DELETE SET NULL,
  amount numeric(14, 2) NOT NULL,
  currency char(3) NOT NULL DEFAULT 'USD',
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_contract_idx ON orders (contract_id);

CREATE TABLE IF NOT EXISTS tasks (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('reminder', 'cs_review', 'risk_review', 'manual_review')),
  assignee_role text NOT NULL,
  title text NOT NULL,
  related_type text,
  related_id text,
  contact_id bigint REFERENCES contacts (id) ON DELETE SET NULL,
  due_at timestamptz,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tasks_open_idx ON tasks (status, assignee_role);
CREATE INDEX IF NOT EXISTS tasks_related_idx ON tasks (related_type, related_id);

-- Debezium's signal table (incremental snapshots) and heartbeat table (keeps the slot moving
-- when captured tables are idle, so WAL does not pile up).
CREATE TABLE IF NOT EXISTS debezium_signal (
  id varchar(42) PRIMARY KEY,
  type varchar(32) NOT NULL,
  data varchar(2048)
);
CREATE TABLE IF NOT EXISTS debezium_heartbeat (
  id integer PRIMARY KEY,
  beat_at timestamptz NOT NULL
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'tags', 'contact_tags', 'campaigns', 'activities', 'contracts', 'orders', 'tasks'] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION crm_touch()', t || '_touch', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['contacts', 'subscriptions', 'tickets', 'opportunities'] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION crm_touch(''versioned'')', t || '_touch', t);
  END LOOP;
END $$;

-- Full before-images for updates and deletes, so change events carry what changed.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'contacts', 'tags', 'contact_tags', 'subscriptions', 'campaigns', 'activities',
                           'tickets', 'opportunities', 'contracts', 'orders', 'tasks'] LOOP
    EXECUTE format('ALTER TABLE %I REPLICA IDENTITY FULL', t);
  END LOOP;
END $$;

-- The publication Debezium reads; `cdc-sync connectors apply` sets its table list from
-- connectors/*.json (publication.autocreate.mode=disabled keeps debezium least-privileged).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'dbz_publication') THEN
    CREATE PUBLICATION dbz_publication FOR TABLE debezium_signal, debezium_heartbeat;
  END IF;
END $$;

GRANT USAGE ON SCHEMA public TO debezium;
-- Incremental snapshots write their window markers into the signal table.
GRANT SELECT, INSERT ON debezium_signal TO debezium;
GRANT SELECT, INSERT, UPDATE ON debezium_heartbeat TO debezium;
-- cdc-sync's roles get exactly what `cdc-sync db grant` derives from its handlers, no more.
