import Foundation

/// `message.status`: a message sent through `POST /messages` reached a new status (issue 12,
/// "Messages out"). The fields follow the outbox row; emitted once that work lands.
public struct MessageStatusChanged: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// WhatsApp's server acknowledged it.
        case sent
        /// A recipient's device received it.
        case delivered
        /// The recipient read it.
        case read
        /// It will not be sent; see `failure_reason`.
        case failed
    }

    /// The outbox row's id, as `POST /messages` returned it.
    public var messageID: String
    /// The WhatsApp message id chosen when the message was queued.
    public var waID: String
    /// The recipient chat's JID.
    public var chat: String
    public var status: Status
    /// For `failed`: `expired`, `logged_out`, … (docs/messaging.md); null otherwise.
    public var failureReason: String?
    /// When the message reached this status.
    public var statusAt: Date

    public init(messageID: String, waID: String, chat: String, status: Status, failureReason: String?, statusAt: Date) {
        self.messageID = messageID
        self.waID = waID
        self.chat = chat
        self.status = status
        self.failureReason = failureReason
        self.statusAt = EventTime.truncated(statusAt)
    }

    enum CodingKeys: String, CodingKey {
        case chat, status
        case messageID = "message_id"
        case waID = "wa_id"
        case failureReason = "failure_reason"
        case statusAt = "status_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(messageID, forKey: .messageID)
        try container.encode(waID, forKey: .waID)
        try container.encode(chat, forKey: .chat)
        try container.encode(status, forKey: .status)
        try container.encode(failureReason, forKey: .failureReason)
        try container.encode(statusAt, forKey: .statusAt)
    }
}
