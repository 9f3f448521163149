-- 041_registration_pickup.sql - the client secret of a registration created
-- asynchronously (POST /v1/registrations with Prefer: respond-async, answered
-- 202) is shown once, by POST /v1/registrations/{id}/client-secret, instead of
-- in the create answer.  secret_pickup is true until then.
ALTER TABLE registrations ADD COLUMN secret_pickup boolean NOT NULL DEFAULT false;
