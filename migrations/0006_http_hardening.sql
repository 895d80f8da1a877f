-- Indexes for the queries of the HTTP API at scale, and for the history retention sweeper.

-- GET /status pages through a tenant's devices oldest first: an ordered range of this index per
-- page, never a sort of the tenant's devices.
CREATE INDEX devices_tenant_created ON devices (tenant_id, created_at, id);

-- A device's history (GET /devices/{id}/history) and its last disconnect (GET /status) are read
-- newest first by time; these replace the (device_id, id) indexes, which served neither.
CREATE INDEX state_transitions_device_at ON state_transitions (device_id, at DESC, id DESC);
CREATE INDEX disconnects_device_at ON disconnects (device_id, at DESC, id DESC);
DROP INDEX state_transitions_device;
DROP INDEX disconnects_device;

-- The retention sweeper deletes the oldest rows first, in batches.
CREATE INDEX state_transitions_at ON state_transitions (at);
CREATE INDEX disconnects_at ON disconnects (at);
