-- 005_access.sql - the access service: accounts (developers and admins),
-- login throttling, apps, access requests and their workflow, webhooks and
-- the audit log.  Products and plans are in 003_catalogue.sql.

-- One table for both roles: the login route is the same, and an e-mail
-- address names exactly one account whatever its role.
CREATE TABLE accounts (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	role          text NOT NULL CHECK (role IN ('developer', 'admin')),
	email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
	name          text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
	-- password.h encoding: "$scrypt$ln=..,r=..,p=..$salt$hash"
	password_hash text NOT NULL CHECK (password_hash LIKE '$scrypt$%'),
	blocked       boolean NOT NULL DEFAULT false,
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

-- Failed logins per (e-mail, client address), whether or not the account
-- exists, so throttling does not reveal which addresses are registered.
CREATE TABLE login_failures (
	email        text NOT NULL,
	ip           text NOT NULL,
	failures     integer NOT NULL DEFAULT 0,
	window_start timestamptz NOT NULL DEFAULT now(),
	locked_until timestamptz NULL,
	PRIMARY KEY (email, ip)
);

CREATE TABLE apps (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	developer_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	description   text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
	redirect_uris jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(redirect_uris) = 'array'),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	deleted_at    timestamptz NULL
);
CREATE INDEX apps_developer_idx ON apps (developer_id) WHERE deleted_at IS NULL;

CREATE TABLE access_requests (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	developer_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	app_id          uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	product_id      uuid NOT NULL REFERENCES products (id),
	plan_id         uuid NOT NULL REFERENCES plans (id),
	client_type_id  uuid NULL REFERENCES client_types (id) ON DELETE SET NULL,
	registration_id uuid NULL REFERENCES registrations (id) ON DELETE SET NULL,
	status          text NOT NULL DEFAULT 'pending'
	                CHECK (status IN ('pending', 'provisioning', 'active', 'failed',
	                                  'rejected', 'revoked')),
	reason          text NULL CHECK (length(reason) <= 2000),
	last_error      text NULL,
	decided_by      text NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	decided_at      timestamptz NULL
);
-- One live request per app and product: a second one is a 409, not a
-- second client at the IdP.
CREATE UNIQUE INDEX access_requests_live_key ON access_requests (app_id, product_id)
	WHERE status IN ('pending', 'provisioning', 'active', 'failed');
CREATE INDEX access_requests_status_idx ON access_requests (status, created_at);
CREATE INDEX access_requests_developer_idx ON access_requests (developer_id);
CREATE INDEX access_requests_registration_idx ON access_requests (registration_id);

CREATE TABLE webhooks (
	id            uuid PRIMARY KEY,
	url           text NOT NULL CHECK (length(url) <= 2048),
	events        text[] NOT NULL CHECK (cardinality(events) >= 1),
	-- seal.h text, AAD "webhooks.secret:<id>"; never returned after creation
	secret_sealed text NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	actor_role  text NOT NULL,
	actor_id    text NULL,
	actor_name  text NOT NULL,
	action      text NOT NULL,
	target_type text NOT NULL,
	target_id   text NULL,
	detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
