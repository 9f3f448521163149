-- 040_registration_intent.sql - exactly one client at the IdP per
-- registration intent (issue 13).
--
-- The registrar records that it is about to ask the IdP to create a client
-- (idp_attempt_at) and commits that BEFORE the call.  A run that finds the
-- mark still set is the retry of an attempt whose outcome it never learnt
-- (timeout, reset, unreadable answer, a crash before COMMIT): it must not
-- create another client blindly.  It resolves the earlier attempt where the
-- IdP family allows, and otherwise parks the row as 'outcome_unknown' with
-- what is known in last_error, for an admin to resolve
-- (POST /v1/registrations/{id}/resolve).  The mark is cleared when the
-- answer was stored, or when the IdP's answer said for certain that nothing
-- was created.
ALTER TABLE registrations ADD COLUMN idp_attempt_at timestamptz NULL;
ALTER TABLE registrations ADD COLUMN idp_attempts integer NOT NULL DEFAULT 0;

ALTER TABLE registrations DROP CONSTRAINT IF EXISTS registrations_status_check;
ALTER TABLE registrations ADD CONSTRAINT registrations_status_check
	CHECK (status IN ('pending', 'active', 'failed', 'deleted', 'orphaned', 'outcome_unknown'));

CREATE INDEX registrations_outcome_unknown_idx ON registrations (created_at)
	WHERE status = 'outcome_unknown';
