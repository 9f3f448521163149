-- 006_introspect_clients.sql - resource servers that may call
-- POST /v1/introspect (RFC 7662) with HTTP Basic id:secret, and the
-- notifications the gateway's allow-set of registered clients needs.
--
-- The secret is 256 random bits made by the introspect service and shown
-- once; only its SHA-256 (hex) is stored.  A fast hash is enough for a
-- secret with that much entropy (no dictionary to try), and it lets every
-- gateway copy keep the hashes in memory and verify without PostgreSQL.
CREATE TABLE introspection_clients (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	secret_hash text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
	created_at  timestamptz NOT NULL DEFAULT now(),
	revoked_at  timestamptz NULL
);
CREATE UNIQUE INDEX introspection_clients_secret_hash_key ON introspection_clients (secret_hash);

-- Any change reloads the in-memory credentials of every running copy, so a
-- revoked caller is refused at once.  Statement level: one reload per change.
CREATE FUNCTION clearance_introspection_clients_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('clearance_introspection_clients', TG_OP);
	RETURN NULL;
END
$$;
CREATE TRIGGER introspection_clients_notify AFTER INSERT OR UPDATE OR DELETE ON introspection_clients
	FOR EACH STATEMENT EXECUTE FUNCTION clearance_introspection_clients_notify();

-- With CLEARANCE_GATEWAY_REQUIRE_REGISTERED (the default) the gateway lets
-- through only clients that have an active registration.  The registrar's
-- trigger (002) announces only active -> not active; this one announces the
-- other direction (payload: "<provider_id> <client_id>"), so a client that
-- becomes active passes at once rather than at the next full refresh.
CREATE FUNCTION clearance_registration_activated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status = 'active' AND NEW.client_id IS NOT NULL
	   AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'active'
	        OR OLD.client_id IS DISTINCT FROM NEW.client_id) THEN
		PERFORM pg_notify('clearance_registrations_active',
		                  NEW.provider_id::text || ' ' || NEW.client_id);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER registrations_activated
	AFTER INSERT OR UPDATE OF status, client_id ON registrations
	FOR EACH ROW EXECUTE FUNCTION clearance_registration_activated();
