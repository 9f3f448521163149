-- 030_portal.sql - what the web portal needs from the access service:
-- e-mail verification, single-use expiring account tokens (verification and
-- password reset, stored only as SHA-256 hashes), and one OpenAPI document
-- per product for the catalogue's API reference.

ALTER TABLE accounts ADD COLUMN email_verified_at timestamptz NULL;
-- Accounts made before verification existed keep working as they did.
UPDATE accounts SET email_verified_at = created_at WHERE email_verified_at IS NULL;

CREATE TABLE account_tokens (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
	token_hash  text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
	expires_at  timestamptz NOT NULL,
	used_at     timestamptz NULL,
	created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_account_idx ON account_tokens (account_id, purpose);

CREATE TABLE product_openapi (
	product_id  uuid PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
	-- capped by the handler (256 KiB of JSON); checked again here
	document    jsonb NOT NULL CHECK (jsonb_typeof(document) = 'object'),
	size_bytes  integer NOT NULL CHECK (size_bytes BETWEEN 2 AND 262144),
	updated_at  timestamptz NOT NULL DEFAULT now()
);
