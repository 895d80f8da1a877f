import Foundation

/// A message we sent moved on (docs/messaging.md "Statuses"): committed with whatever else the stanza
/// that told us changed, before that stanza is answered. Statuses only move forward (`queued` →
/// `sent` → `delivered` → `read`); a later one arriving first fills its time and the earlier one's
/// time is still recorded when it comes. `failed` ends a message that was not sent.
public struct OutboundStatusChange: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable, Comparable {
        case sent, delivered, read, failed

        var rank: Int {
            switch self {
            case .sent: 1
            case .delivered: 2
            case .read: 3
            case .failed: 4
            }
        }

        public static func < (lhs: Status, rhs: Status) -> Bool { lhs.rank < rhs.rank }
    }

    /// The WhatsApp id of our message.
    public var messageID: String
    public var status: Status
    public var at: Date
    /// With `failed`: `expired`, `logged_out`, `no_devices`, `encryption_failed`, `server_error_<code>`.
    public var failureReason: String?

    public init(messageID: String, status: Status, at: Date, failureReason: String? = nil) {
        self.messageID = messageID
        self.status = status
        self.at = at
        self.failureReason = failureReason
    }
}
