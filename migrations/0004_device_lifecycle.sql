-- The device lifecycle: what the tenant wants of a device beside what it is doing (a stopped
-- device keeps its credentials, but no instance connects it), the tenant's labels, a proxy of
-- its own, and deletion that removes a device and everything hanging off it but keeps its
-- history (docs/device-lifecycle.md).

-- desired_state: 'stopped' is never claimed, and an instance that still holds a stopped device
-- closes it. labels: the tenant's own ids, {"key": "value"}, bounded by the API.
-- proxy_endpoint: the device's proxy as scheme://host:port, for display only; the URL with its
-- credentials is sealed in device_credentials (kind 'proxy') like the device's keys.
ALTER TABLE devices
    ADD COLUMN desired_state  text NOT NULL DEFAULT 'running' CHECK (desired_state IN ('running', 'stopped')),
    ADD COLUMN labels         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    ADD COLUMN proxy_endpoint text CHECK (length(proxy_endpoint) <= 300);

-- GET /devices pages a tenant's devices in creation order and filters by labels.
CREATE INDEX devices_tenant_created ON devices (tenant_id, created_at, id);
CREATE INDEX devices_labels ON devices USING gin (labels jsonb_path_ops);
-- Every instance looks for stopped devices it still holds (a stop it did not hear about).
CREATE INDEX devices_stopped_owner ON devices (lease_owner) WHERE desired_state = 'stopped';
-- The admin page counts the last hour's disconnects by category.
CREATE INDEX disconnects_at ON disconnects (at);

-- History outlives its device: deleting a device (and, by cascade, its credentials, pairing
-- sessions, protocol state and queued messages) leaves its transitions and disconnects until
-- the history retention removes them by age. Tables that belong to a device reference
-- devices (id) ON DELETE CASCADE; history tables reference nothing.
ALTER TABLE state_transitions DROP CONSTRAINT state_transitions_device_id_fkey;
ALTER TABLE disconnects DROP CONSTRAINT disconnects_device_id_fkey;

-- What is left of a deleted device: whose it was and when it went, so its history stays
-- attributable (not its number: a deleted device's account is forgotten). Never shown by the API.
CREATE TABLE deleted_devices (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text,
    instance   text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deleted_devices_tenant ON deleted_devices (tenant_id);
