-- Consent in full and segments in the demo CRM (run after 01-03, as crm_owner; idempotent).

-- What a subscription is consent to, and why it ended. Nullable, so the captured schema of
-- `subscriptions` only gains optional fields (its contract is "backward").
ALTER TABLE subscriptions
  ADD COLUMN IF NOT EXISTS consent_type text DEFAULT 'newsletter'
    CHECK (consent_type IN ('newsletter', 'marketing', 'transactional')),
  ADD COLUMN IF NOT EXISTS unsubscribe_reason text;

-- Every consent change, in either direction, as evidence: appended by the trigger below in the
-- transaction of the change itself, so no change can be made without its row. Never updated.
CREATE TABLE IF NOT EXISTS consent_evidence (
  id bigserial PRIMARY KEY,
  contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  consent_type text NOT NULL,
  status text NOT NULL,
  consent_timestamp timestamptz NOT NULL,   -- when the consent was given or withdrawn (UTC)
  consent_source text,                      -- the evidence the subscription names (a form, a double opt-in)
  captured_from text NOT NULL,              -- which system made the change: 'crm' or the vendor's system
  captured_by text NOT NULL,                -- who: the CRM user (SET LOCAL crm.actor) or database role, or the vendor
  details jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS consent_evidence_contact_idx ON consent_evidence (contact_id, consent_timestamp);

CREATE OR REPLACE FUNCTION subscriptions_consent_evidence() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  origin text := nullif(current_setting('cdc_sync.origin', true), '');
  actor text := nullif(current_setting('crm.actor', true), '');
  withdrawn boolean := NEW.status IN ('unsubscribed', 'cleaned');
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
     AND NEW.consent_timestamp IS NOT DISTINCT FROM OLD.consent_timestamp
     AND NEW.consent_source IS NOT DISTINCT FROM OLD.consent_source
     AND NEW.consent_type IS NOT DISTINCT FROM OLD.consent_type THEN
    RETURN NEW;  -- nothing about consent changed
  END IF;
  INSERT INTO consent_evidence
    (contact_id, consent_type, status, consent_timestamp, consent_source, captured_from, captured_by, details)
  VALUES (
    NEW.contact_id,
    coalesce(NEW.consent_type, 'newsletter'),
    NEW.status,
    CASE WHEN withdrawn THEN coalesce(NEW.unsubscribed_at, now()) ELSE coalesce(NEW.consent_timestamp, now()) END,
    NEW.consent_source,
    coalesce(origin, 'crm'),
    coalesce(origin, actor, session_user),
    jsonb_strip_nulls(jsonb_build_object(
      'list_id', NEW.list_id,
      'previous_status', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
      'unsubscribe_reason', CASE WHEN withdrawn THEN NEW.unsubscribe_reason END))
  );
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER subscriptions_consent_evidence AFTER INSERT OR UPDATE ON subscriptions
  FOR EACH ROW EXECUTE FUNCTION subscriptions_consent_evidence();

-- CRM segments. Membership is stored (`segment_members`), not a rule evaluated on the fly: the
-- CRM decides who is in (its own rules, imports, hand picks) and every change is a row change
-- cdc-sync can push and count exactly. `external_id` is the marketing platform's segment id,
-- set by cdc-sync when it creates the segment there.
CREATE TABLE IF NOT EXISTS segments (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  description text,
  rule text,                                -- how the CRM chose the members (documentation only)
  external_id text UNIQUE,
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS segment_members (
  segment_id bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
  contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  added_at timestamptz NOT NULL DEFAULT now(),
  sync_origin text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (segment_id, contact_id)
);
CREATE INDEX IF NOT EXISTS segment_members_contact_idx ON segment_members (contact_id);

CREATE OR REPLACE TRIGGER segments_touch BEFORE INSERT OR UPDATE ON segments
  FOR EACH ROW EXECUTE FUNCTION crm_touch();
CREATE OR REPLACE TRIGGER segment_members_touch BEFORE INSERT OR UPDATE ON segment_members
  FOR EACH ROW EXECUTE FUNCTION crm_touch();

