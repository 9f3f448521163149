-- 070_job_errors.sql - a failed job attempt keeps its error in structured
-- form next to last_error (issue 13): the registrar's routes wait a bounded
-- time for the job that calls the IdP and answer its failure exactly as the
-- synchronous call did (HTTP status from error_rc, the JSON error code and
-- field).  NULL on jobs that never failed, and on rows written before this.
ALTER TABLE jobs ADD COLUMN error_rc text NULL CHECK (length(error_rc) <= 48);
ALTER TABLE jobs ADD COLUMN error_code text NULL CHECK (length(error_code) <= 48);
ALTER TABLE jobs ADD COLUMN error_field text NULL CHECK (length(error_field) <= 48);
