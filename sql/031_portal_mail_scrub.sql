-- 031_portal_mail_scrub.sql - a mailed verification or password-reset link
-- is a bearer credential: once its mail job is finished (sent, or failed for
-- good) the link is removed from the job's payload, so it does not stay
-- readable at rest in the jobs table or through GET /v1/jobs.
CREATE FUNCTION jobs_scrub_mail_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.kind = 'email' AND NEW.state IN ('done', 'failed')
	   AND NEW.payload->>'template' IN ('verify_email', 'password_reset')
	   AND NEW.payload->'vars' ? 'link' THEN
		NEW.payload := jsonb_set(NEW.payload, '{vars,link}', '"(removed once sent)"');
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER jobs_scrub_mail_link BEFORE UPDATE OF state ON jobs
	FOR EACH ROW EXECUTE FUNCTION jobs_scrub_mail_link();
