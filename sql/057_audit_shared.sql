-- 057_audit_shared.sql - audit_log (005) becomes the shared append-only log:
-- every service inserts its own rows (access: accounts, catalogue, apps,
-- requests, webhooks; registrar: providers, client types, registrations),
-- none updates or deletes one.  Each row carries the request id of the
-- change, so a row leads to the service logs of the same request.
ALTER TABLE audit_log ADD COLUMN request_id text NULL
	CHECK (request_id IS NULL OR length(request_id) <= 64);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
