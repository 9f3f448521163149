-- 058_webhook_deliveries.sql - every delivery attempt of a webhook (access's
-- worker writes one row per HTTP attempt): when, which event and job, the
-- receiver's status or the error, and how long it took.  Listed at
-- GET /v1/webhooks/{id}/deliveries; gone with the webhook.
CREATE TABLE webhook_deliveries (
	id          bigserial PRIMARY KEY,
	webhook_id  uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	job_id      text NOT NULL CHECK (length(job_id) <= 64),
	event       text NOT NULL CHECK (length(event) <= 64),
	attempt     int NOT NULL CHECK (attempt >= 1),
	at          timestamptz NOT NULL DEFAULT now(),
	http_status int NULL,
	duration_ms int NOT NULL CHECK (duration_ms >= 0),
	ok          boolean NOT NULL,
	error       text NULL CHECK (error IS NULL OR length(error) <= 300)
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id DESC);
