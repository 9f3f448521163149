-- 004_introspect.sql - what the introspect service (the gateway check)
-- needs beyond the registrar's tables.
--
-- The gateway keeps providers in memory; any change to one (issuer,
-- jwks_uri, audience, alg_allowlist, TLS settings) is announced on
-- clearance_providers so every running copy reloads at once instead of at
-- its next periodic refresh.  Statement level: one reload per change.
CREATE FUNCTION clearance_providers_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('clearance_providers', TG_OP);
	RETURN NULL;
END
$$;
CREATE TRIGGER providers_notify AFTER INSERT OR UPDATE OR DELETE ON providers
	FOR EACH STATEMENT EXECUTE FUNCTION clearance_providers_notify();
