-- 056_token_pepper_more.sql - hash_alg (see 055) for account_tokens (mailed
-- links, single use, never upgraded: they expire within hours) and
-- introspection_clients (legacy secrets keep working until re-issued).
ALTER TABLE account_tokens ADD COLUMN hash_alg text NOT NULL DEFAULT 'sha256'
	CHECK (hash_alg IN ('sha256', 'hmac-sha256'));
ALTER TABLE introspection_clients ADD COLUMN hash_alg text NOT NULL DEFAULT 'sha256'
	CHECK (hash_alg IN ('sha256', 'hmac-sha256'));
