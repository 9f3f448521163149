-- API products and plans: written by the access service (admin catalogue),
-- read by the introspect service on the gateway's hot path (scope ->
-- product/plan mapping).  Scopes are stored space separated, as OAuth
-- carries them.

CREATE TABLE products (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    path_prefixes text[] NOT NULL DEFAULT '{}',
    dcr_enabled   boolean NOT NULL DEFAULT false,
    scopes        text NOT NULL DEFAULT '' CHECK (length(scopes) <= 2000),
    auto_approve  boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);
CREATE UNIQUE INDEX products_name_live ON products (lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE plans (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                      text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description               text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    scopes                    text NOT NULL DEFAULT '' CHECK (length(scopes) <= 2000),
    rate_limit_requests       integer CHECK (rate_limit_requests IS NULL OR rate_limit_requests > 0),
    rate_limit_window_seconds integer CHECK (rate_limit_window_seconds IS NULL OR rate_limit_window_seconds > 0),
    monthly_quota             bigint CHECK (monthly_quota IS NULL OR monthly_quota > 0),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    deleted_at                timestamptz
);
CREATE UNIQUE INDEX plans_name_live ON plans (lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE product_plans (
    product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    plan_id    uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, plan_id)
);

CREATE TABLE product_client_types (
    product_id     uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    client_type_id uuid NOT NULL REFERENCES client_types (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, client_type_id)
);

-- Any change to the catalogue wakes the gateway's caches.
CREATE FUNCTION clearance_catalogue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clearance_catalogue', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER products_notify AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION clearance_catalogue_notify();
CREATE TRIGGER plans_notify AFTER INSERT OR UPDATE OR DELETE ON plans
    FOR EACH STATEMENT EXECUTE FUNCTION clearance_catalogue_notify();
CREATE TRIGGER product_plans_notify AFTER INSERT OR UPDATE OR DELETE ON product_plans
    FOR EACH STATEMENT EXECUTE FUNCTION clearance_catalogue_notify();
