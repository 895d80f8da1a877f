import Foundation

/// `device.state`: a device moved from one state to another. Updates inside a state (a new QR, a
/// keepalive lost and restored) are not transitions and send nothing.
public struct DeviceStateChanged: Sendable, Hashable, Codable {
    /// The state left: `unpaired`, `pairing`, `paired`, `connecting`, `online`, `backoff`,
    /// `suspended` or `logged_out` (docs/device-lifecycle.md).
    public var from: String
    /// The state entered, from the same list.
    public var to: String
    /// The new state's detail as /status shows it (`network:3`, `client_outdated:2.3000.1`,
    /// `replaced`, `qr`); null when the state has none.
    public var stateReason: String?
    /// Why it moved: the event or the disconnect's category (`login_success`, `network`, `reset`).
    public var reason: String
    /// The reconnect policy's decision when a disconnect caused the move (`backoff`,
    /// `reconnect_now`, `suspend_replaced`, `logged_out`, `stop`); null otherwise.
    public var decision: String?
    /// When the device will try again by itself (end of a backoff or of a ban); null otherwise.
    public var nextAttemptAt: Date?

    public init(from: String, to: String, stateReason: String?, reason: String, decision: String?, nextAttemptAt: Date?) {
        self.from = from
        self.to = to
        self.stateReason = stateReason
        self.reason = reason
        self.decision = decision
        self.nextAttemptAt = nextAttemptAt.map(EventTime.truncated)
    }

    enum CodingKeys: String, CodingKey {
        case from, to, reason, decision
        case stateReason = "state_reason"
        case nextAttemptAt = "next_attempt_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(stateReason, forKey: .stateReason)
        try container.encode(reason, forKey: .reason)
        try container.encode(decision, forKey: .decision)
        try container.encode(nextAttemptAt, forKey: .nextAttemptAt)
    }
}
