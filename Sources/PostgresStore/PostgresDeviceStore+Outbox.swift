import Crypto
import DevicePool
import Foundation
import Messaging
import PostgresClient
import WAWire

/// What an outbound message's row adds to a stored message: where it is in its life.
public struct OutboundStatus: Sendable, Hashable {
    /// `queued`, `sent`, `delivered`, `read` or `failed`.
    public var status: String
    /// The `to` as the client gave it.
    public var recipient: String
    public var queuedAt: Date
    /// The server's ack.
    public var sentAt: Date?
    public var deliveredAt: Date?
    public var readAt: Date?
    public var failedAt: Date?
    public var failureReason: String?
    /// How often the stanza was written.
    public var attempts: Int
}

/// A message for `PostgresDeviceStore.queueMessage`.
public struct OutboundSubmission: Sendable, Hashable {
    public var tenantID: UUID
    public var deviceID: UUID
    /// The `to` as given, and the chat it names.
    public var recipient: String
    public var chat: JID
    public var text: String
    public var idempotencyKey: String?

    public init(tenantID: UUID, deviceID: UUID, recipient: String, chat: JID, text: String, idempotencyKey: String?) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.recipient = recipient
        self.chat = chat
        self.text = text
        self.idempotencyKey = idempotencyKey
    }

    /// SHA-256 over what the request asked for, in a form that does not depend on JSON spelling.
    var requestHash: [UInt8] {
        let parts = [deviceID.uuidString.lowercased(), chat.description, text]
        return Array(SHA256.hash(data: Array(parts.joined(separator: "\u{0}").utf8)))
    }
}

/// How `queueMessage` ended.
public enum QueueOutcome: Sendable, Hashable {
    /// A new row, status `queued`.
    case queued(StoredMessage)
    /// The idempotency key was used before with the same request: its row, as it is now.
    case replayed(StoredMessage)
    /// The idempotency key was used before with another request.
    case keyReused
    case deviceNotFound
    /// The device has no account to send from (unpaired, pairing, or logged out).
    case deviceNotPaired
    /// The tenant queued its daily quota in the last 24 hours.
    case quotaExceeded
}

extension PostgresDeviceStore {
    static func outbound(from row: PostgresRow) throws -> OutboundStatus? {
        guard let status: String = try row.decode("status") else {
            return nil
        }
        return OutboundStatus(
            status: status, recipient: try row.decode("recipient") ?? "", queuedAt: try row.decode("queued_at"),
            sentAt: try row.decode("acked_at"), deliveredAt: try row.decode("delivered_at"), readAt: try row.decode("read_at"),
            failedAt: try row.decode("failed_at"), failureReason: try row.decode("failure_reason"),
            attempts: Int(try row.decode("attempts") as Int32)
        )
    }

    /// Writes an outbound message with its WhatsApp id, chosen here once (messaging.md §1.4), in one
    /// transaction with the idempotency check: a key seen before answers with its row when the request
    /// is the same, and is refused otherwise. The device row is locked (shared) so a logout cannot
    /// fail the queue between the check and the insert.
    /// With `dailyQuota`, a tenant that queued that many messages in the 24 hours before `now` is
    /// refused (a repeated idempotent request is still answered).
    public func queueMessage(_ submission: OutboundSubmission, now: Date, dailyQuota: Int? = nil) async throws -> QueueOutcome {
        let hash = submission.requestHash
        let raw = OutboundText.serialized(submission.text)
        return try await pool.withTransaction { connection in
            if let key = submission.idempotencyKey,
               let row = try connection.query("""
                   SELECT \(Self.messageColumns), request_hash FROM messages
                   WHERE tenant_id = $1 AND idempotency_key = $2
                   """, [submission.tenantID, key]).first
            {
                let stored: [UInt8] = try row.decode("request_hash")
                return stored == hash ? .replayed(try Self.message(from: row, raw: false)) : .keyReused
            }
            guard let device = try connection.query(
                "SELECT state, jid FROM devices WHERE id = $1 AND tenant_id = $2 FOR SHARE", [submission.deviceID, submission.tenantID]
            ).first else {
                return .deviceNotFound
            }
            let state: String = try device.decode("state")
            guard let jidText: String = try device.decode("jid"), let own = JID(parsing: jidText),
                  !["unpaired", "pairing", "logged_out"].contains(state)
            else {
                return .deviceNotPaired
            }
            if let dailyQuota {
                let queued: Int64 = try connection.query("""
                    SELECT count(*) FROM messages WHERE tenant_id = $1 AND direction = 'out' AND queued_at > $2
                    """, [submission.tenantID, now.addingTimeInterval(-86_400)])[0].decode(0)
                guard queued < dailyQuota else {
                    return .quotaExceeded
                }
            }
            var random = SystemRandomNumberGenerator()
            let waID = MessageID.generate(unixSeconds: Int64(now.timeIntervalSince1970), ownUser: own.user, using: &random)
            // A concurrent request with the same key waits on the unique index, then inserts nothing.
            let inserted = try connection.query("""
                INSERT INTO messages (tenant_id, device_id, direction, chat, sender, wa_id, sent_at, received_at, type, text,
                                      raw, from_me, status, recipient, queued_at, idempotency_key, request_hash)
                VALUES ($1, $2, 'out', $3, $4, $5, $6, $6, 'text', $7, $8, true, 'queued', $9, $6, $10, $11)
                ON CONFLICT DO NOTHING
                RETURNING \(Self.messageColumns)
                """, [
                    submission.tenantID, submission.deviceID, submission.chat.description, own.description, waID, now,
                    submission.text, raw, submission.recipient, submission.idempotencyKey, hash,
                ])
            if let row = inserted.first {
                return .queued(try Self.message(from: row, raw: false))
            }
            guard let key = submission.idempotencyKey, let row = try connection.query("""
                SELECT \(Self.messageColumns), request_hash FROM messages
                WHERE tenant_id = $1 AND idempotency_key = $2
                """, [submission.tenantID, key]).first
            else {
                throw PostgresError(.decoding, detail: "an outbound message collided with a row that is not there")
            }
            let stored: [UInt8] = try row.decode("request_hash")
            return stored == hash ? .replayed(try Self.message(from: row, raw: false)) : .keyReused
        }
    }
}
