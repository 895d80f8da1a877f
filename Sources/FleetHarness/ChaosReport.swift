/// The figures and verdicts of one chaos run: printed at its end, and written with `--json`.
public struct ChaosReport: Codable, Sendable {
    /// Something the run did, seconds after it started.
    public struct Event: Codable, Sendable {
        public var at: Double
        public var what: String
    }

    /// A gateway still running at the end, and what it used.
    public struct Gateway: Codable, Sendable {
        public var instance: String
        public var residentMiB: Double?
        public var cpuSeconds: Double?
    }

    public var seed: UInt64
    public var minutes: Double
    public var devices: Int
    public var tenants: Int
    public var pairingSeconds: Double
    public var pairingP50Milliseconds: Double
    public var pairingP99Milliseconds: Double
    public var allOnlineAfterPairingSeconds: Double
    public var settleSeconds: Double
    public var events: [Event]
    public var faultsInjected: [String: Int]
    public var liveFaultsByKind: [String: Int]
    public var removedDevices: Int
    public var replacedDevices: Int
    public var fleetEvents: Int
    public var connectionsAccepted: Int
    public var logins: Int
    public var violations: Int
    public var gateways: [Gateway]
    public var invariants: [FleetInvariants.Check]
    public var webhooks: Webhooks? = nil
    public var messages: Messages? = nil

    /// The message load and what became of it.
    public struct Messages: Codable, Sendable {
        /// Messages the contacts sent, sends the simulator refused, and the copies queued (one per linked device).
        public var sent: Int
        public var sendFailures: Int
        public var copies: Int
        /// Inbox rows of direction `in`.
        public var stored: Int
        /// The simulator's delivery counters (`GET /stats`).
        public var offered: Int
        public var acked: Int
        public var redelivered: Int
        public var retried: Int
        public var ackDeadlineClosures: Int
    }

    /// The send load (`POST /messages`) and what became of it.
    public var sends: Sends? = nil

    public struct Sends: Codable, Sendable {
        public var requests: Int
        /// Answered 202; refused with a problem+json answer (by status and code); without a clear
        /// answer after every try; answers lost and asked again with the same key.
        public var accepted: Int
        public var refused: [String: Int]
        public var unanswered: Int
        public var lostAnswers: Int
        /// The accepted messages' statuses at the end.
        public var statuses: [String: Int]
        /// Rows of the send log, copies the simulated phones read (and of those, ids they had), and
        /// copies relayed to the sender's sibling devices.
        public var attempts: Int
        public var arrivals: Int
        public var redelivered: Int
        public var relayed: Int
    }

    /// What the webhook receiver saw.
    public struct Webhooks: Codable, Sendable {
        /// Events committed to the outbox.
        public var events: Int
        /// Requests the receiver got, retries and duplicates included, and how many it accepted.
        public var requests: Int
        public var accepted: Int
        /// How often the receiver took each mood.
        public var moods: [String: Int]
    }

    /// A's database partition, when the run could put a proxy in front of PostgreSQL.
    public var partition: Partition? = nil
    /// The unauthenticated flood of the settled fleet.
    public var flood: UnauthenticatedFlood.Figures? = nil

    /// One instance cut off from PostgreSQL (its traffic blackholed) while another ran.
    public struct Partition: Codable, Sendable {
        public var instance: String
        public var seconds: Double
        /// Devices it held when it was cut off.
        public var held: Int
        /// Of those, the ones another instance held at the heal.
        public var takenOver: Int
    }

    /// The invariants that do not hold; the run failed unless this is empty.
    public var failedInvariants: [FleetInvariants.Check] {
        invariants.filter { !$0.passed }
    }
}
