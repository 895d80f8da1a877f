-- The fleet's instances, so that each can compute its fair share of the live devices and hand
-- the excess to its peers (issue 15, scale-out that rebalances).

-- One row per gateway process: written at start and every heartbeat. An instance whose heartbeat
-- is older than the liveness window is not counted; a draining one takes no devices and its
-- fair share is zero. Rows of dead instances are deleted by any live one after a day.
CREATE TABLE instances (
    id            text PRIMARY KEY,
    capacity      integer NOT NULL CHECK (capacity > 0),
    draining      boolean NOT NULL DEFAULT false,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

-- Each instance counts the live leases per owner every rebalancing round.
CREATE INDEX devices_lease_owner ON devices (lease_owner) WHERE lease_owner IS NOT NULL;
