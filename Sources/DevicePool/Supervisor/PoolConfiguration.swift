import Foundation

/// How the device pool behaves; every default is the documented one.
public struct PoolConfiguration: Sendable {
    /// This process's name in leases and history rows.
    public var instanceID: String
    /// The WhatsApp Web version in use (named in client_outdated diagnostics).
    public var webVersion: String
    /// How long a lease lasts without renewal (database clock).
    public var leaseTTL: Duration = .seconds(30)
    /// How often held leases are renewed (TTL/3).
    public var renewInterval: Duration = .seconds(10)
    /// Without a successful renewal for this long (TTL·2/3) a device closes its connection itself,
    /// before its lease can expire and another instance can connect it.
    public var selfCloseAfter: Duration = .seconds(20)
    /// At most this many devices are started per second (boot ramp and takeovers), jittered.
    /// 250/s brings 10,000 devices back in about 40 s, inside the 60 s budget with a margin for
    /// the database, and stays far below what the 2-core reference machine can take
    /// (docs/performance.md); WhatsApp sees a restart as 250 logins per second from one address.
    public var rampPerSecond: Double = 250
    /// How often free devices (crashed or stopped owners) are looked for.
    public var claimInterval: Duration = .seconds(10)
    /// How often pairings left open by dead owners are ended.
    public var sweepInterval: Duration = .seconds(15)
    /// How long a pairing may stay open: 6 refs last 160 s; a margin covers the last one.
    public var pairingWindow: Duration = .seconds(180)
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

    public init(instanceID: String, webVersion: String) {
        self.instanceID = instanceID
        self.webVersion = webVersion
    }
}
