-- 021_gateway_usage.sql - rate limits and monthly quotas that hold across
-- every copy of the gateway (issue 8).  Owned by the introspect service.
--
-- Each copy leases blocks of allowance from one shared counter per
-- (issuer, client, plan, kind, period) and spends them from memory, so the
-- hot path reaches PostgreSQL only when its lease runs out.  `used` counts
-- what has been leased out, which never exceeds the limit: the copies
-- together never admit more than the limit in a period.  Leased units a copy
-- did not spend (it stopped, or the period ended) count as used.
--   kind 'rate':  period = floor(epoch seconds / window), a fixed window;
--   kind 'month': period = year * 100 + month, the calendar month in UTC.
CREATE TABLE gateway_usage (
	issuer     text NOT NULL,
	client_id  text NOT NULL,
	plan_id    uuid NOT NULL,
	kind       text NOT NULL CHECK (kind IN ('rate', 'month')),
	period     bigint NOT NULL,
	used       bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (issuer, client_id, plan_id, kind, period)
);
-- old rate windows are pruned by the gateway (short-lived rows)
CREATE INDEX gateway_usage_rate_idx ON gateway_usage (updated_at) WHERE kind = 'rate';

-- Leases up to `want` units (never past `lim`) and returns the units granted
-- and the counter after the lease.  One row lock, one round trip.
CREATE FUNCTION gateway_lease(p_issuer text, p_client text, p_plan uuid, p_kind text,
                              p_period bigint, p_want bigint, p_lim bigint,
                              OUT granted bigint, OUT used bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	cur bigint;
BEGIN
	INSERT INTO gateway_usage (issuer, client_id, plan_id, kind, period)
	VALUES (p_issuer, p_client, p_plan, p_kind, p_period)
	ON CONFLICT DO NOTHING;
	SELECT g.used INTO cur FROM gateway_usage g
	 WHERE g.issuer = p_issuer AND g.client_id = p_client AND g.plan_id = p_plan
	   AND g.kind = p_kind AND g.period = p_period
	FOR UPDATE;
	granted := LEAST(GREATEST(p_want, 0), GREATEST(p_lim - cur, 0));
	used := cur + granted;
	IF granted > 0 THEN
		UPDATE gateway_usage g SET used = cur + granted, updated_at = now()
		 WHERE g.issuer = p_issuer AND g.client_id = p_client AND g.plan_id = p_plan
		   AND g.kind = p_kind AND g.period = p_period;
	END IF;
END
$$;

-- What a plan does while PostgreSQL is unreachable (no row: 'open').
--   'open':   rate limits fall back to each copy's own token bucket (so N
--             copies admit up to N x the limit), quotas are not counted;
--   'closed': requests of the plan are refused (429, Retry-After) until the
--             shared counters are reachable again.
CREATE TABLE gateway_plan_policy (
	plan_id    uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
	db_down    text NOT NULL DEFAULT 'open' CHECK (db_down IN ('open', 'closed')),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER gateway_plan_policy_notify AFTER INSERT OR UPDATE OR DELETE ON gateway_plan_policy
	FOR EACH STATEMENT EXECUTE FUNCTION clearance_catalogue_notify();
