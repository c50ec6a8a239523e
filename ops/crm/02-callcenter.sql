-- The call center's tables in the demo CRM (run after 01-crm-schema.sql, as crm_owner; idempotent).
-- Calls, QA tags and dial results are written by the call center (through cdc-sync's writer);
-- dial batches, dial tasks and the agent mapping are the CRM's.

CREATE TABLE IF NOT EXISTS calls (
  id bigserial PRIMARY KEY,
  ext_call_id text NOT NULL UNIQUE,            -- provider call id, `#<segment>` for a transfer leg
  direction text CHECK (direction IN ('IN', 'OUT')),
  status text NOT NULL DEFAULT 'RINGING'
    CHECK (status IN ('RINGING', 'ANSWERED', 'MISSED', 'ABANDONED', 'FAILED')),
  caller_phone_e164 text,
  caller_phone_raw text,
  callee_phone_e164 text,
  callee_phone_raw text,
  started_at timestamptz,
  connected_at timestamptz,
  ended_at timestamptz,
  talk_duration_sec integer CHECK (talk_duration_sec >= 0),
  ring_duration_sec integer CHECK (ring_duration_sec >= 0),
  vendor_talk_duration_sec integer,              -- as the call center reported it
  duration_mismatch boolean NOT NULL DEFAULT false, -- the vendor's talk time is > 10% off its timestamps
  ext_customer_id text,                         -- the CRM id the call center knows the caller by
  ext_agent_id text,
  agent_id bigint REFERENCES users (id),
  queue_code text,
  result_code text,
  has_recording boolean NOT NULL DEFAULT false,
  recording_signed_url text,                    -- a short-lived signed link, never the audio
  recording_url_expires_at timestamptz,
  recording_sha256 text,
  recording_duration_sec integer,
  qa_tags text[] NOT NULL DEFAULT '{}',
  ext_campaign_id text,
  contact_id bigint REFERENCES contacts (id) ON DELETE SET NULL,
  opportunity_id bigint REFERENCES opportunities (id) ON DELETE SET NULL,
  ambiguous_match boolean NOT NULL DEFAULT false,
  last_event_at timestamptz,                    -- the newest event merged into the record
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS calls_contact_idx ON calls (contact_id, started_at DESC);
CREATE INDEX IF NOT EXISTS calls_unmapped_idx ON calls (ext_agent_id) WHERE agent_id IS NULL;

CREATE TABLE IF NOT EXISTS call_agents (
  ext_agent_id text PRIMARY KEY,
  user_id bigint REFERENCES users (id),         -- NULL: not mapped yet (the manual mapping queue)
  name text,
  synced_at timestamptz,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS dial_batches (
  id bigserial PRIMARY KEY,
  batch_id text NOT NULL UNIQUE,
  created_by bigint REFERENCES users (id),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'sent', 'done')),
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS dial_tasks (
  id bigserial PRIMARY KEY,
  batch_id text NOT NULL REFERENCES dial_batches (batch_id),
  task_id text NOT NULL UNIQUE,
  contact_id bigint REFERENCES contacts (id) ON DELETE SET NULL,
  opportunity_id bigint REFERENCES opportunities (id) ON DELETE SET NULL,
  target_phone_e164 text NOT NULL,
  ext_campaign_id text,
  result_code text CHECK (result_code IN ('CONNECTED', 'NO_ANSWER', 'BUSY', 'POWER_OFF', 'INVALID_NUMBER',
                                          'REJECTED', 'BLACKLISTED', 'NETWORK_ERROR')),
  attempt_count integer NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
  last_attempt_at timestamptz,
  ext_call_id text,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dialled', 'done', 'blocked')),
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dial_tasks_batch_idx ON dial_tasks (batch_id);

CREATE TABLE IF NOT EXISTS do_not_call (
  phone_e164 text PRIMARY KEY,
  reason text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A number on the do-not-call list is never dialled: its new dial tasks are blocked at once
-- (cdc-sync sends only `pending` ones).
CREATE OR REPLACE FUNCTION dial_task_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM do_not_call WHERE phone_e164 = NEW.target_phone_e164) THEN
    NEW.status := 'blocked';
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER dial_tasks_do_not_call BEFORE INSERT ON dial_tasks
  FOR EACH ROW EXECUTE FUNCTION dial_task_blocked();

-- Every call is on the contact's timeline.
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_kind_check;
ALTER TABLE activities ADD CONSTRAINT activities_kind_check
  CHECK (kind IN ('email_open', 'email_click', 'ticket', 'payment', 'note', 'call'));

-- Phone matching narrows by the last 8 digits in SQL and decides on E.164 in Python.
CREATE INDEX IF NOT EXISTS contacts_phone_tail_idx ON contacts (right(regexp_replace(phone, '\D', '', 'g'), 8));

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['calls', 'call_agents', 'dial_batches', 'dial_tasks', 'do_not_call'] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION crm_touch()', t || '_touch', t);
    EXECUTE format('ALTER TABLE %I REPLICA IDENTITY FULL', t);
  END LOOP;
END $$;

