-- Webhooks (docs/webhooks.md): the tenants' receivers, the transactional outbox of events, one
-- delivery per event and endpoint, and every attempt. Events are written by the transaction that
-- makes their change; any instance's workers deliver them.

-- A tenant's receiver. The signing secret is sealed like device credentials (AES-256-GCM under a
-- master key, the endpoint id and the kind `webhook-secret` as associated data). During a
-- rotation the previous secret keeps signing until previous_expires_at.
CREATE TABLE webhook_endpoints (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Normalized (WebhookURL): at most 2048 bytes as given, one more when a `/` is added.
    url                 text NOT NULL CHECK (length(url) BETWEEN 1 AND 2049),
    event_types         text[] NOT NULL CHECK (cardinality(event_types) >= 1),
    description         text CHECK (length(description) <= 500),
    enabled             boolean NOT NULL DEFAULT true,
    secret_key_id       text NOT NULL,
    secret_sealed       bytea NOT NULL,
    previous_key_id     text,
    previous_sealed     bytea,
    previous_expires_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- Since when every attempt failed (NULL after any success); 24 h of it disables the endpoint.
    failing_since       timestamptz,
    last_error          text,
    disabled_at         timestamptz,
    disabled_reason     text CHECK (disabled_reason IN ('gone', 'failing', 'manual')),
    CHECK ((previous_sealed IS NULL) = (previous_expires_at IS NULL) AND (previous_sealed IS NULL) = (previous_key_id IS NULL)),
    CHECK (enabled = (disabled_at IS NULL) AND (disabled_at IS NULL) = (disabled_reason IS NULL))
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

-- One row per stream of events: a device, or a tenant for tenant-wide events. Writing an event
-- takes its stream's row lock until commit, so a stream's sequence numbers (and its deliveries'
-- ids) follow commit order, and a worker finishing a delivery sees every event committed before.
CREATE TABLE webhook_streams (
    id            uuid PRIMARY KEY,
    last_sequence bigint NOT NULL
);

-- The outbox: each event once, as the exact bytes every attempt sends. id is the event's
-- UUIDv7 (`evt_…`); position orders events across streams (replay `after_event`). device_id
-- has no foreign key: an event outlives its device.
CREATE TABLE webhook_events (
    id         uuid PRIMARY KEY,
    position   bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    device_id  uuid,
    stream_id  uuid NOT NULL,
    sequence   bigint NOT NULL,
    type       text NOT NULL,
    body       bytea NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (stream_id, sequence)
);
CREATE INDEX webhook_events_tenant_time ON webhook_events (tenant_id, created_at);
CREATE INDEX webhook_events_tenant_position ON webhook_events (tenant_id, position);

-- One event to one endpoint. Per (endpoint, stream) deliveries go in id order, one at a time:
-- the first active one (the head) has next_attempt_at (when it is due, or when its claim
-- expires while `delivering`); the others wait with NULL until the head is delivered or failed.
-- '-infinity' means due at once.
CREATE TABLE webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL,
    stream_id        uuid NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    claim_id         uuid,
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    last_latency_ms  integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- When it was delivered, or failed for good.
    finished_at      timestamptz,
    CHECK ((status IN ('delivered', 'failed')) = (finished_at IS NOT NULL)),
    CHECK (status <> 'delivering' OR (claim_id IS NOT NULL AND next_attempt_at IS NOT NULL))
);
-- The workers' claim: due heads, soonest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE status IN ('pending', 'delivering') AND next_attempt_at IS NOT NULL;
-- Each endpoint's queue per stream: is it busy, which delivery is next, how old is the backlog.
CREATE INDEX webhook_deliveries_active ON webhook_deliveries (endpoint_id, stream_id, id)
    WHERE status IN ('pending', 'delivering');
-- An endpoint's deliveries log, newest first.
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
-- Retention of finished rows, and the events they still reference.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Every attempt, for GET /webhooks/{id}/deliveries.
CREATE TABLE webhook_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    started_at    timestamptz NOT NULL,
    -- success, http_error, timeout, network_error, refused
    result        text NOT NULL,
    status_code   integer,
    -- http_503, timeout, network_error, private_address…; NULL on success
    error         text,
    detail        text,
    latency_ms    integer NOT NULL,
    response      text,
    instance      text NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
