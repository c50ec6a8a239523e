-- CRM corrections of a field another system owns (cdc-sync's [corrections] config): a ticket's
-- priority is the helpdesk's, but an account manager may escalate it from the CRM. The row says
-- why and who; cdc-sync pushes the correction only when the reason is in the configured scope.
ALTER TABLE tickets
  ADD COLUMN IF NOT EXISTS priority_correction text,    -- why ('escalation', …); NULL: not a correction
  ADD COLUMN IF NOT EXISTS priority_corrected_by text,  -- the CRM user who corrected it
  -- The helpdesk's updated_at of the ticket as last applied: a correction is sent as a safe update
  -- naming it, so a helpdesk change made meanwhile turns the correction into a conflict.
  ADD COLUMN IF NOT EXISTS helpdesk_updated_at timestamptz;
