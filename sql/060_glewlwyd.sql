-- 060_glewlwyd.sql - the glewlwyd provider kind (Glewlwyd 2.7: wants
-- redirect_uris on every registration, takes a short-lived initial access
-- token obtained with client credentials) and the scope of that token,
-- configurable for every provider kind that can obtain one
-- (initial_client_id / initial_client_secret; NULL = the kind's default,
-- "dcr" for Curity, no scope parameter otherwise).

ALTER TABLE providers DROP CONSTRAINT IF EXISTS providers_kind_check;
ALTER TABLE providers ADD CONSTRAINT providers_kind_check
	CHECK (kind IN ('other', 'keycloak', 'okta', 'gluu', 'curity', 'http_bridge', 'glewlwyd'));

ALTER TABLE providers ADD COLUMN initial_token_scope text NULL
	CHECK (initial_token_scope IS NULL OR length(initial_token_scope) BETWEEN 1 AND 1024);
