-- The helpdesk lifecycle in the demo CRM (run after 01 and 02, as crm_owner; idempotent).
-- A helpdesk ticket is one row of `tickets` (the C-1 stories' table, kept readable as it was);
-- `cases` is the same rows under the case names. Tickets created in the helpdesk become rows
-- here; conversations become `interactions`; a solved or closed ticket writes its figures back
-- onto the linked opportunity and the contact's service record.

ALTER TABLE tickets
  ADD COLUMN IF NOT EXISTS account_ref text,                 -- the helpdesk's organization id
  ADD COLUMN IF NOT EXISTS requester_ref text,               -- the helpdesk's user id of the requester
  ADD COLUMN IF NOT EXISTS opportunity_id bigint REFERENCES opportunities (id) ON DELETE SET NULL,
  ADD COLUMN IF NOT EXISTS category text,                    -- the helpdesk's ticket type (question, incident, …)
  ADD COLUMN IF NOT EXISTS assignee_id bigint REFERENCES users (id),
  ADD COLUMN IF NOT EXISTS assignee_ref text,                -- the helpdesk's agent id
  ADD COLUMN IF NOT EXISTS queue text,                       -- the helpdesk's group id
  ADD COLUMN IF NOT EXISTS sla_due_at timestamptz,
  ADD COLUMN IF NOT EXISTS opened_at timestamptz,            -- when the helpdesk created the ticket
  ADD COLUMN IF NOT EXISTS first_response_ms bigint CHECK (first_response_ms >= 0),
  ADD COLUMN IF NOT EXISTS time_to_resolve_ms bigint CHECK (time_to_resolve_ms >= 0),
  ADD COLUMN IF NOT EXISTS resolution_code text,
  ADD COLUMN IF NOT EXISTS resolution_summary text,          -- one line appended per solve or close
  ADD COLUMN IF NOT EXISTS closed_at timestamptz,
  ADD COLUMN IF NOT EXISTS reopened boolean NOT NULL DEFAULT false;

-- The helpdesk's id of a ticket never changes once set (ExternalSourceId is immutable).
CREATE OR REPLACE FUNCTION tickets_external_id_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.external_id IS NOT NULL AND NEW.external_id IS DISTINCT FROM OLD.external_id THEN
    RAISE EXCEPTION 'tickets.external_id is immutable (% -> %)', OLD.external_id, NEW.external_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER tickets_external_id_fixed BEFORE UPDATE ON tickets
  FOR EACH ROW EXECUTE FUNCTION tickets_external_id_fixed();

CREATE OR REPLACE VIEW cases AS
  SELECT id, external_id, contact_id, account_ref, opportunity_id, subject, status, priority, channel,
         category, assignee_id, assignee_ref, queue, sla_due_at, opened_at, first_response_ms,
         time_to_resolve_ms, resolution_code, resolution_summary, closed_at, reopened, csat, version,
         created_at, updated_at
  FROM tickets;

CREATE TABLE IF NOT EXISTS interactions (
  id bigserial PRIMARY KEY,
  external_id text NOT NULL UNIQUE,                          -- the helpdesk's comment id
  contact_id bigint REFERENCES contacts (id) ON DELETE SET NULL,
  case_id bigint REFERENCES tickets (id) ON DELETE CASCADE,
  channel text NOT NULL DEFAULT 'Other' CHECK (channel IN ('Chat', 'Email', 'Social', 'Phone', 'Other')),
  agent_id bigint REFERENCES users (id),
  agent_ref text,                                            -- the helpdesk's id of the agent who wrote it
  public boolean NOT NULL DEFAULT true,
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  notes text,                                                -- the transcript as Markdown, PII masked
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS interactions_case_idx ON interactions (case_id, started_at);

-- The service outcome of the opportunity's latest solved case.
ALTER TABLE opportunities
  ADD COLUMN IF NOT EXISTS service_resolution_code text,
  ADD COLUMN IF NOT EXISTS service_summary text,
  ADD COLUMN IF NOT EXISTS service_first_response_ms bigint,
  ADD COLUMN IF NOT EXISTS service_time_to_resolve_ms bigint,
  ADD COLUMN IF NOT EXISTS service_closed_at timestamptz,
  ADD COLUMN IF NOT EXISTS service_reopened boolean NOT NULL DEFAULT false;

-- A contact's last service (beside `contacts`, whose captured schema stays as it is).
CREATE TABLE IF NOT EXISTS contact_service (
  contact_id bigint PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
  last_service_at timestamptz NOT NULL,
  last_case_id bigint REFERENCES tickets (id) ON DELETE SET NULL,
  version integer NOT NULL DEFAULT 1,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE TRIGGER interactions_touch BEFORE INSERT OR UPDATE ON interactions
  FOR EACH ROW EXECUTE FUNCTION crm_touch();
CREATE OR REPLACE TRIGGER contact_service_touch BEFORE INSERT OR UPDATE ON contact_service
  FOR EACH ROW EXECUTE FUNCTION crm_touch('versioned');
ALTER TABLE interactions REPLICA IDENTITY FULL;


-- The CRM derives its health score from each satisfaction it takes (csat_last, which the helpdesk
-- owns): 70% history, 30% the latest. A rule of the CRM's, so it holds whoever writes csat_last.
CREATE OR REPLACE FUNCTION contacts_health_score() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.csat_last IS NOT NULL THEN
    NEW.health_score := CASE WHEN OLD.health_score IS NULL THEN NEW.csat_last
      ELSE round(OLD.health_score * 0.7 + NEW.csat_last * 0.3, 2) END;
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER contacts_health_score BEFORE UPDATE OF csat_last ON contacts
  FOR EACH ROW EXECUTE FUNCTION contacts_health_score();
