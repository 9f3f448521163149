-- 002_registrar.sql - IdP providers, client types and the clients registered
-- at IdPs (RFC 7591/7592).  Written by the registrar; the introspect service
-- reads providers (issuer, jwks_uri, audience, alg_allowlist) and
-- registrations (revocation), the access service enqueues register jobs for
-- pre-created 'pending' registrations.
--
-- Columns ending in _sealed hold seal.h text ("v1.<kid>...."), AAD
-- "<table>.<column without _sealed>:<row id>", e.g.
-- "providers.initial_access_token:<id>".  They are never returned by the API.
-- `revision` is bumped on every write and lets a writer that talked to the
-- network between its read and its write refuse to overwrite a newer row.

CREATE TABLE providers (
	id                             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name                           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	kind                           text NOT NULL CHECK (kind IN ('other', 'keycloak', 'okta',
	                                    'gluu', 'curity', 'http_bridge')),
	well_known_url                 text NOT NULL CHECK (length(well_known_url) <= 2048),
	issuer                         text NOT NULL,
	-- the endpoint in use: the admin's override when set, else discovery's
	registration_endpoint          text NULL,
	registration_endpoint_override text NULL,
	token_endpoint                 text NOT NULL,
	jwks_uri                       text NOT NULL,
	introspection_endpoint         text NULL,
	discovery                      jsonb NOT NULL DEFAULT '{}'::jsonb,
	discovered_at                  timestamptz NOT NULL DEFAULT now(),
	initial_access_token_sealed    text NULL,
	initial_client_id              text NULL,
	initial_client_secret_sealed   text NULL,
	tls_skip_verify                boolean NOT NULL DEFAULT false,
	ca_bundle_pem                  text NULL,
	audience                       text NULL,
	allow_insecure_http            boolean NOT NULL DEFAULT false,
	-- token verification policy for the introspect service
	alg_allowlist                  text NOT NULL
	                               DEFAULT 'RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA',
	identity_claim                 text NOT NULL DEFAULT 'client_id',
	revision                       integer NOT NULL DEFAULT 1,
	created_at                     timestamptz NOT NULL DEFAULT now(),
	updated_at                     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX providers_name_key ON providers (name);
CREATE INDEX providers_issuer_idx ON providers (issuer);

CREATE TABLE client_types (
	id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	provider_id                uuid NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	display_name               text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
	description                text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
	response_types             jsonb NOT NULL DEFAULT '[]'::jsonb
	                           CHECK (jsonb_typeof(response_types) = 'array'),
	grant_types                jsonb NOT NULL CHECK (jsonb_typeof(grant_types) = 'array'),
	token_endpoint_auth_method text NOT NULL,
	okta_application_type      text NULL CHECK (okta_application_type IN
	                                ('web', 'native', 'browser', 'service')),
	revision                   integer NOT NULL DEFAULT 1,
	created_at                 timestamptz NOT NULL DEFAULT now(),
	updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX client_types_provider_name_key ON client_types (provider_id, display_name);

CREATE TABLE registrations (
	id                               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	provider_id                      uuid NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	client_type_id                   uuid NULL REFERENCES client_types (id) ON DELETE SET NULL,
	client_name                      text NOT NULL CHECK (length(client_name) BETWEEN 1 AND 200),
	redirect_uris                    jsonb NOT NULL DEFAULT '[]'::jsonb
	                                 CHECK (jsonb_typeof(redirect_uris) = 'array'),
	scope                            text NULL CHECK (length(scope) <= 2000),
	-- who asked for it (the access service's app / request ids), opaque here
	owner                            jsonb NULL,
	status                           text NOT NULL DEFAULT 'pending'
	                                 CHECK (status IN ('pending', 'active', 'failed',
	                                                   'deleted', 'orphaned')),
	client_id                        text NULL,
	client_secret_sealed             text NULL,
	registration_access_token_sealed text NULL,
	registration_client_uri          text NULL,
	client_secret_expires_at         bigint NULL,
	-- what the IdP returned, client_secret and registration_access_token removed
	metadata                         jsonb NULL,
	last_error                       text NULL,
	revision                         integer NOT NULL DEFAULT 1,
	created_at                       timestamptz NOT NULL DEFAULT now(),
	updated_at                       timestamptz NOT NULL DEFAULT now(),
	deleted_at                       timestamptz NULL,
	CHECK (status NOT IN ('active', 'orphaned') OR client_id IS NOT NULL)
);
-- A deleted row keeps its client_id (the gateway keeps refusing it), so
-- uniqueness only binds the clients that may still exist at the IdP.
CREATE UNIQUE INDEX registrations_provider_client_key ON registrations (provider_id, client_id)
	WHERE client_id IS NOT NULL AND status <> 'deleted';
CREATE INDEX registrations_client_id_idx ON registrations (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX registrations_status_idx ON registrations (status, created_at);
CREATE INDEX registrations_client_type_idx ON registrations (client_type_id);

-- Every client that stops being 'active' is announced on
-- clearance_revocations (payload: its client_id), so the introspect service
-- refuses its tokens at once, even unexpired JWTs.  A trigger rather than
-- application code, so no writer can forget it; NOTIFY is delivered at commit.
CREATE FUNCTION clearance_registration_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		IF OLD.status = 'active' AND OLD.client_id IS NOT NULL THEN
			PERFORM pg_notify('clearance_revocations', OLD.client_id);
		END IF;
		RETURN OLD;
	END IF;
	IF OLD.status = 'active' AND NEW.status <> 'active' AND OLD.client_id IS NOT NULL THEN
		PERFORM pg_notify('clearance_revocations', OLD.client_id);
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER registrations_revoked
	AFTER UPDATE OF status OR DELETE ON registrations
	FOR EACH ROW EXECUTE FUNCTION clearance_registration_revoked();
