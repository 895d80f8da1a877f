-- Schema v1: tenants and how they are reached, devices with their fleet-wide lease, sealed
-- credentials, pairing sessions and the history that makes every failure visible.
-- Applied once, in a transaction, by `pairgate migrate`. Never edit after release: add 0002_….

-- A SaaS customer. Disabled tenants keep their data but get no API access and no connections.
CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);

-- The Host header values that select a tenant: lowercase, without port, unique fleet-wide.
CREATE TABLE tenant_hosts (
    host       text PRIMARY KEY CHECK (host = lower(host) AND length(host) BETWEEN 1 AND 253),
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_hosts_tenant ON tenant_hosts (tenant_id);

-- API tokens: only the SHA-256 of the token is stored; the token is shown once at creation.
CREATE TABLE tenant_tokens (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sha256     bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    label      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX tenant_tokens_tenant ON tenant_tokens (tenant_id);

-- One linked device (a companion of a tenant's WhatsApp number).
-- lease_*: fleet-wide single ownership. An instance owns the device while lease_expires_at (on
-- the database clock) is in the future; every acquisition increments lease_epoch, and every
-- write by the owner is conditional on the epoch it holds (fencing).
CREATE TABLE devices (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             text CHECK (length(name) <= 100),
    jid              text,
    lid              text,
    platform         text,
    state            text NOT NULL DEFAULT 'unpaired' CHECK (state IN (
                         'unpaired', 'pairing', 'paired', 'connecting', 'online',
                         'backoff', 'suspended', 'logged_out')),
    state_reason     text,
    state_since      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz,
    lease_owner      text,
    lease_expires_at timestamptz,
    lease_epoch      bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_tenant ON devices (tenant_id);
CREATE INDEX devices_lease ON devices (lease_expires_at) WHERE state NOT IN ('unpaired', 'logged_out');
CREATE UNIQUE INDEX devices_jid ON devices (jid) WHERE jid IS NOT NULL;

-- Key material, sealed with AES-256-GCM under a master key (key_id names it, for rotation);
-- the device id and the kind are the associated data, so a row cannot be moved to another.
CREATE TABLE device_credentials (
    device_id  uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    key_id     text NOT NULL,
    sealed     bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, kind)
);

-- A pairing attempt. At most one is open per tenant, across every gateway instance.
CREATE TABLE pairing_sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    device_id  uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    method     text NOT NULL CHECK (method IN ('qr', 'code')),
    instance   text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    deadline   timestamptz NOT NULL,
    ended_at   timestamptz,
    outcome    text CHECK (outcome IN ('paired', 'timeout', 'cancelled', 'failed', 'interrupted')),
    detail     text,
    qr_count   integer NOT NULL DEFAULT 0,
    CHECK ((ended_at IS NULL) = (outcome IS NULL))
);
CREATE UNIQUE INDEX pairing_sessions_one_open_per_tenant ON pairing_sessions (tenant_id) WHERE ended_at IS NULL;
CREATE INDEX pairing_sessions_open_deadline ON pairing_sessions (deadline) WHERE ended_at IS NULL;

-- Every real state transition of a device, with who made it and why.
CREATE TABLE state_transitions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id   uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    reason      text,
    instance    text NOT NULL,
    lease_epoch bigint,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX state_transitions_device ON state_transitions (device_id, id);

-- Every disconnect: where it failed (stage), the code, its category and what was decided.
CREATE TABLE disconnects (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id  uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    stage      text NOT NULL,
    code       integer,
    category   text NOT NULL,
    detail     text,
    decision   text NOT NULL,
    backoff_ms bigint,
    instance   text NOT NULL
);
CREATE INDEX disconnects_device ON disconnects (device_id, id);
