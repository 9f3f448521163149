-- 065_provider_token_auth.sql - how the gateway authenticates a client at the
-- provider's token endpoint when it exchanges the id and secret of an
-- incoming "Authorization: Basic" header (services/introspect/basic_exchange.c).
-- client_secret_basic (RFC 6749 s.2.3.1: id and secret form-encoded, then
-- base64) is the default; client_secret_post sends them in the body, for IdPs
-- that do not form-decode the Basic header (a client id or secret with "/"
-- then fails there).

ALTER TABLE providers ADD COLUMN token_endpoint_auth_method text NOT NULL
	DEFAULT 'client_secret_basic'
	CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post'));
