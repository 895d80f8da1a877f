-- Indexes for the queries of the HTTP API at scale, and for the history retention sweeper.

-- GET /status pages through a tenant's devices oldest first: an ordered range of
-- devices_tenant_created (0004, which GET /devices pages by too) per page, never a sort of the
-- tenant's devices.

-- A device's history (GET /devices/{id}/history) and its last disconnect (GET /status) are read
-- newest first by time; these replace the (device_id, id) indexes, which served neither.
CREATE INDEX state_transitions_device_at ON state_transitions (device_id, at DESC, id DESC);
CREATE INDEX disconnects_device_at ON disconnects (device_id, at DESC, id DESC);
DROP INDEX state_transitions_device;
DROP INDEX disconnects_device;

-- The retention sweeper deletes the oldest rows first, in batches (disconnects_at is 0004's, which
-- the admin page counts the last hour by).
CREATE INDEX state_transitions_at ON state_transitions (at);
