-- 075_reconcile.sql - comparing what an IdP holds with what Clearance
-- stores (issue 13), per provider.
--
-- reconcile_policy: what a reconcile run does with strays, the clients at
-- the IdP that carry Clearance's tag but that no registration holds:
-- 'report' (default: count only, change nothing), 'delete' (delete them at
-- the IdP; a stray whose tag names a registration parked outcome_unknown
-- resolves that registration as gone), 'adopt' (a stray whose tag names a
-- registration parked outcome_unknown becomes that registration's client;
-- other strays are only reported).  Clients without Clearance's tag are
-- never touched.
-- reconcile_credential_sealed: the credential of the family's listing API
-- when it is not the one the provider has already (Glewlwyd: an admin API
-- key); sealed like the other provider secrets, AAD
-- "providers.reconcile_credential:<id>".
ALTER TABLE providers ADD COLUMN reconcile_policy text NOT NULL DEFAULT 'report'
	CHECK (reconcile_policy IN ('report', 'delete', 'adopt'));
ALTER TABLE providers ADD COLUMN reconcile_credential_sealed text NULL;

-- The last run per provider: when, what it found, what it did.
CREATE TABLE provider_reconcile (
	provider_id uuid PRIMARY KEY REFERENCES providers (id) ON DELETE CASCADE,
	ran_at      timestamptz NOT NULL DEFAULT now(),
	-- ok, unsupported (the family cannot list clients), error
	status      text NOT NULL CHECK (status IN ('ok', 'unsupported', 'error')),
	policy      text NOT NULL,
	dry_run     boolean NOT NULL DEFAULT false,
	-- {listed, matched, stray, foreign, missing, unknown_adopted, unknown_gone,
	--  unknown_found, deleted, orphaned}
	counts      jsonb NOT NULL DEFAULT '{}'::jsonb,
	last_error  text NULL
);
