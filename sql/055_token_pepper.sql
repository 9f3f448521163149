-- 055_token_pepper.sql - which hash each stored token uses (auth.h).
-- Tokens are stored as HMAC-SHA-256 under a server-side pepper.  Rows
-- written before the pepper are plain SHA-256 ('sha256'); a peppered server
-- accepts them and rewrites api_tokens rows on first use.  New rows are
-- written 'hmac-sha256' by the code; the default stays 'sha256' so a row
-- inserted by an older binary during a rolling upgrade is read correctly.
-- Only the core table here (every module's unit tests build on 001 + 055);
-- access's and introspect's tables are in 056.
ALTER TABLE api_tokens ADD COLUMN hash_alg text NOT NULL DEFAULT 'sha256'
	CHECK (hash_alg IN ('sha256', 'hmac-sha256'));
