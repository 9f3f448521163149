-- 020_gateway_grants.sql - what the gateway enforces: the (product, plan)
-- pairs each active registration was approved for (issue 8).
--
-- Two writers, each in its own table:
--  - access requests (the access service): an approved request is
--    'active' with its product_id, plan_id and registration_id; revoking
--    sets it 'revoked', which removes the grant;
--  - an admin's direct grant (the registrar, POST /v1/registrations
--    "grants"): registration_grants below.
-- gateway_grants is their union, restricted to registrations that are
-- active and have a client id.  The gateway reads it keyed by (issuer,
-- client_id), so two providers with the same issuer resolve a client the
-- same way whatever their ids.
CREATE TABLE registration_grants (
	registration_id uuid NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
	product_id      uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
	plan_id         uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
	created_at      timestamptz NOT NULL DEFAULT now(),
	-- one plan per product and registration, as for an access request
	PRIMARY KEY (registration_id, product_id)
);

CREATE VIEW gateway_grants AS
	SELECT r.id AS registration_id, r.provider_id, r.client_id, g.product_id, g.plan_id
	  FROM registration_grants g JOIN registrations r ON r.id = g.registration_id
	 WHERE r.status = 'active' AND r.client_id IS NOT NULL
	UNION
	SELECT r.id, r.provider_id, r.client_id, a.product_id, a.plan_id
	  FROM access_requests a JOIN registrations r ON r.id = a.registration_id
	 WHERE a.status = 'active' AND r.status = 'active' AND r.client_id IS NOT NULL;

-- Any change that can add or remove a grant reloads the grants of every
-- running gateway copy (LISTEN clearance_grants).  Statement level: one
-- reload per statement, whatever the number of rows.
CREATE FUNCTION clearance_grants_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('clearance_grants', TG_TABLE_NAME);
	RETURN NULL;
END
$$;
CREATE TRIGGER registration_grants_notify
	AFTER INSERT OR UPDATE OR DELETE ON registration_grants
	FOR EACH STATEMENT EXECUTE FUNCTION clearance_grants_notify();
CREATE TRIGGER access_requests_grants_notify
	AFTER INSERT OR UPDATE OF status, product_id, plan_id, registration_id OR DELETE
	ON access_requests
	FOR EACH STATEMENT EXECUTE FUNCTION clearance_grants_notify();
CREATE TRIGGER registrations_grants_notify
	AFTER INSERT OR UPDATE OF status, client_id, provider_id OR DELETE ON registrations
	FOR EACH STATEMENT EXECUTE FUNCTION clearance_grants_notify();

-- Per-provider token policy the gateway honours.  identity_claim exists
-- since 002 (a dotted path such as Kong's "app.clientId" walks nested
-- objects); access_token_typ is the space separated list of accepted JWT
-- "typ" header values, "none" meaning a token without typ (RFC 8725
-- s.3.11, RFC 9068 s.2.1).  The default also accepts untyped tokens and
-- "JWT" because many IdPs do not type their access tokens.
ALTER TABLE providers ADD COLUMN access_token_typ text NOT NULL
	DEFAULT 'at+jwt application/at+jwt JWT none'
	CHECK (length(access_token_typ) BETWEEN 1 AND 500);
