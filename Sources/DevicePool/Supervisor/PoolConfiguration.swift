import Foundation

/// How the device pool behaves; every default is the documented one.
public struct PoolConfiguration: Sendable {
    /// This process's name in leases and history rows.
    public var instanceID: String
    /// The WhatsApp Web version announced at start (`upstream.web_version`); the version in use
    /// may change at run time (`Supervisor.useClientVersion`).
    public var webVersion: String
    /// How long a lease lasts without renewal (database clock).
    public var leaseTTL: Duration = .seconds(30)
    /// How often held leases are renewed (TTL/3).
    public var renewInterval: Duration = .seconds(10)
    /// A device closes its connection, on a timer of its own, TTL − margin after the last
    /// renewal that succeeded was sent (20 s by default: two renewals may fail), so that it is
    /// closed before its lease can expire and another instance can connect it. The margin covers
    /// closing the connection and the clocks of the instance and the database drifting apart.
    public var leaseMargin: Duration = .seconds(10)
    /// At most this many devices are started per second (boot ramp and takeovers, and devices
    /// resumed after a new client version), jittered. 250/s brings 10,000 devices back in about
    /// 40 s, inside the 60 s budget with a margin for the database, and stays far below what the
    /// 2-core reference machine can take (docs/performance.md); WhatsApp sees a restart as 250
    /// logins per second from one address.
    public var rampPerSecond: Double = 250
    /// How often free devices (crashed or stopped owners) are looked for.
    public var claimInterval: Duration = .seconds(10)
    /// Free devices read per claim query; the next query continues after the last id read.
    public var claimBatchSize = 500
    /// How often pairings left open by dead owners are ended.
    public var sweepInterval: Duration = .seconds(15)
    /// How long a pairing may stay open: 6 refs last 160 s; a margin covers the last one.
    public var pairingWindow: Duration = .seconds(180)
    /// How long devices get to close in good order at shutdown (record the disconnect, release
    /// the lease). Past it, the connections still open are closed and the writes still running
    /// are interrupted: a database that does not answer cannot hold SIGTERM up.
    public var shutdownTimeout: Duration = .seconds(10)
    /// This instance's capacity (`pool.max_devices`): its weight in the fleet's fair share, and
    /// the most devices it claims.
    public var maxDevices = 10_000
    /// How often the instance renews its heartbeat, reads the fleet's load and hands its excess
    /// over (`pool.rebalance_interval_seconds`).
    public var rebalanceInterval: Duration = .seconds(5)
    /// An instance whose heartbeat is older than this is not live (three missed heartbeats).
    public var instanceLiveness: Duration = .seconds(15)
    /// At most this many devices are handed to peers per minute when rebalancing
    /// (`pool.handovers_per_minute`; 0 turns rebalancing off); a drain is not paced by it.
    public var handoversPerMinute = 600
    /// At most this fraction of the instance's devices is being handed over at once when
    /// rebalancing (`pool.handover_max_fraction`; at least one device).
    public var handoverMaxFraction = 0.1
    public var policy = ReconnectPolicy()
    /// Stored messages older than this are deleted (`messages.retention_days`); nil keeps them forever.
    public var messageRetention: Duration? = .seconds(30 * 86_400)
    /// How often the retention sweeper runs; each run deletes in batches until nothing is due.
    public var messageSweepInterval: Duration = .seconds(600)
    /// A queued message not sent within this fails with `expired` (`messages.max_queue_age`).
    public var maxQueueAge: Duration = .seconds(24 * 3600)
    /// Messages a device sends per minute (`messages.send_rate_per_minute`); nil: no pacing. The
    /// default is conservative, as peers advise against bans: a burst of 5, then one every 3 s.
    public var sendRatePerMinute: Int? = 20
    /// Messages a device may send at once after a quiet spell (`messages.send_burst`).
    public var sendBurst = 5
    /// How long a sent message's stanza may wait for the server's ack (`messages.send_ack_timeout_seconds`;
    /// whatsmeow's send timeout). Past it the connection is taken as broken: it is closed, the device
    /// reconnects, and the message goes again with the same id (docs/messaging.md, "The ack deadline").
    public var sendAckTimeout: Duration = .seconds(75)

    public init(instanceID: String, webVersion: String) {
        self.instanceID = instanceID
        self.webVersion = webVersion
    }

    /// How long after a lease was last confirmed its device closes itself.
    var leaseBudget: Duration {
        max(leaseTTL - leaseMargin, .seconds(1))
    }
}
