-- 001_core.sql - tables every service shares: API tokens and the job queue.
-- schema_migrations itself is created by `clearance-ctl migrate`, which runs
-- this file inside one transaction together with recording its version.

-- Bearer tokens for admins and developers.  Only the SHA-256 (hex) of a
-- token is stored; the token is shown once when created.
CREATE TABLE api_tokens (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	token_hash   text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	role         text NOT NULL CHECK (role IN ('admin', 'developer')),
	subject_id   uuid NULL,          -- developers/admins row; NULL for ctl-made admin tokens
	name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 127),
	created_at   timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NULL,   -- NULL: never expires
	revoked_at   timestamptz NULL,
	last_used_at timestamptz NULL
);
CREATE UNIQUE INDEX api_tokens_token_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_subject_idx ON api_tokens (subject_id) WHERE subject_id IS NOT NULL;

-- The job queue (see common/include/clearance/jobs.h).  max_attempts NULL
-- means "the worker's JOB_MAX_ATTEMPTS"; the first claim pins the value.
CREATE TABLE jobs (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	kind         text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
	payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
	state        text NOT NULL DEFAULT 'queued'
	             CHECK (state IN ('queued', 'running', 'done', 'failed')),
	attempts     int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	max_attempts int NULL CHECK (max_attempts >= 1),
	run_at       timestamptz NOT NULL DEFAULT now(),
	locked_until timestamptz NULL,
	last_error   text NULL,
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_state_run_at_idx ON jobs (state, run_at);
