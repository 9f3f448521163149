-- 010_service_boundaries.sql - each service writes only its own tables (and
-- the shared jobs queue); what one needs from another is data it reads.
--
-- 1. What the registrar's drivers can do, per provider kind.  The registrar
--    writes these rows at start-up from its driver table; the access service
--    reads them (can this credential be rotated?) instead of keeping a copy.
CREATE TABLE provider_kinds (
	kind       text PRIMARY KEY CHECK (kind ~ '^[a-z0-9_]{1,32}$'),
	can_rotate boolean NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- 2. The access service names the registration its approval asks for (the
--    id goes into the registrar's `provision` job) before the registrar has
--    created the row, so the reference cannot be a foreign key any more.
--    Registrations are never deleted (status 'deleted' keeps the row), so
--    nothing dangles.
ALTER TABLE access_requests DROP CONSTRAINT IF EXISTS access_requests_registration_id_fkey;

-- 3. The registrar reports back only through its own rows: when a
--    registration that an access request asked for changes state (active,
--    failed, an error recorded, a new secret), this queues the access
--    service's `request_settle` job in the same transaction, and the access
--    worker settles the request (active / failed / last_error, mails,
--    webhooks).  A secret that changes on a registration that stays active
--    with the same redirect URIs is a rotation.
CREATE FUNCTION clearance_registration_settle() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	rotated boolean;
BEGIN
	IF NEW.owner IS NULL OR NEW.owner->>'service' IS DISTINCT FROM 'access'
	   OR NOT (NEW.owner ? 'access_request_id') THEN
		RETURN NULL;
	END IF;
	rotated := OLD.status = 'active' AND NEW.status = 'active'
		AND OLD.client_secret_sealed IS DISTINCT FROM NEW.client_secret_sealed
		AND NEW.client_secret_sealed IS NOT NULL
		AND OLD.redirect_uris IS NOT DISTINCT FROM NEW.redirect_uris;
	IF OLD.status IS DISTINCT FROM NEW.status
	   OR (NEW.last_error IS NOT NULL AND OLD.last_error IS DISTINCT FROM NEW.last_error)
	   OR rotated THEN
		INSERT INTO jobs (kind, payload) VALUES ('request_settle',
			jsonb_build_object('access_request_id', NEW.owner->>'access_request_id',
			                   'registration_id', NEW.id::text, 'rotated', rotated));
		PERFORM pg_notify('clearance_jobs', 'request_settle');
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER registrations_settle_access
	AFTER UPDATE ON registrations
	FOR EACH ROW EXECUTE FUNCTION clearance_registration_settle();
