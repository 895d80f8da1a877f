import DevicePool
import Foundation
import Messaging
import PostgresClient
import WAWire

/// A stored message as the API shows it.
public struct StoredMessage: Sendable, Hashable {
    public var id: UUID
    /// The inbox's order: pages continue after the last `seq` returned.
    public var seq: Int64
    public var deviceID: UUID
    /// `in` or `out`.
    public var direction: String
    public var chat: String
    public var sender: String
    public var waID: String
    public var type: String
    public var text: String?
    public var sentAt: Date
    public var receivedAt: Date
    public var fromMe: Bool
    /// The decrypted `Message` protobuf; only read for a single message.
    public var raw: [UInt8]?
    /// For direction `out`: its status and their times.
    public var outbound: OutboundStatus?
}

extension PostgresDeviceStore {
    public func protocolStore(_ lease: Lease, tenantID: UUID, sealer: CredentialSealer) -> any ProtocolStore {
        PostgresProtocolStore(pool: pool, sealer: sealer, lease: lease, tenantID: tenantID)
    }

    public func outboxStore(_ lease: Lease, tenantID: UUID, sealer: CredentialSealer) -> any OutboxStore {
        PostgresProtocolStore(pool: pool, sealer: sealer, lease: lease, tenantID: tenantID)
    }

    /// The Signal state a logout wipes: sessions, identities and their history, sender keys,
    /// consumed and reserved prekeys, LID mappings, cached device and member lists, the holders of our
    /// sender keys. Messages stay.
    static func deleteProtocolState(deviceID: UUID, on connection: PostgresConnection) throws {
        try connection.query("""
            WITH sessions AS (DELETE FROM signal_sessions WHERE device_id = $1),
                 identities AS (DELETE FROM signal_identities WHERE device_id = $1),
                 changes AS (DELETE FROM signal_identity_changes WHERE device_id = $1),
                 sender_keys AS (DELETE FROM signal_sender_keys WHERE device_id = $1),
                 prekeys AS (DELETE FROM signal_prekeys_used WHERE device_id = $1),
                 retry AS (DELETE FROM signal_retry_prekeys WHERE device_id = $1),
                 lists AS (DELETE FROM device_lists WHERE device_id = $1),
                 holders AS (DELETE FROM sender_key_holders WHERE device_id = $1)
            DELETE FROM lid_mappings WHERE device_id = $1
            """, [deviceID])
    }

    public func deleteMessages(olderThan age: Duration, limit: Int) async throws -> Int {
        // SKIP LOCKED: two instances sweeping at once each take other rows instead of waiting.
        try await pool.query("""
            WITH due AS (
                SELECT id FROM messages WHERE received_at < now() - make_interval(secs => $1)
                ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED
            )
            DELETE FROM messages m USING due WHERE m.id = due.id
            """, [age.seconds, Int64(limit)]).affectedRows
    }

    static let messageColumns = """
        id, seq, device_id, direction, chat, sender, wa_id, type, text, sent_at, received_at, from_me,
        status, recipient, queued_at, acked_at, delivered_at, read_at, failed_at, failure_reason, attempts
        """

    static func message(from row: PostgresRow, raw: Bool) throws -> StoredMessage {
        StoredMessage(
            id: try row.decode("id"), seq: try row.decode("seq"), deviceID: try row.decode("device_id"),
            direction: try row.decode("direction"), chat: try row.decode("chat"), sender: try row.decode("sender"),
            waID: try row.decode("wa_id"), type: try row.decode("type"), text: try row.decode("text"),
            sentAt: try row.decode("sent_at"), receivedAt: try row.decode("received_at"), fromMe: try row.decode("from_me"),
            raw: raw ? try row.decode("raw") : nil,
            outbound: try outbound(from: row)
        )
    }

    /// A tenant's messages in inbox order after `seq` (exclusive), optionally of one device and one
    /// direction, at most `limit`.
    public func messages(tenantID: UUID, deviceID: UUID?, direction: String?, after seq: Int64, limit: Int) async throws -> [StoredMessage] {
        // Two statements, so each keeps its index (a device's own, or the tenant's) in a generic plan.
        let rows = if let deviceID {
            try await pool.query("""
                SELECT \(Self.messageColumns) FROM messages
                WHERE tenant_id = $1 AND device_id = $2 AND seq > $3 AND ($4::text IS NULL OR direction = $4)
                ORDER BY seq LIMIT $5
                """, [tenantID, deviceID, seq, direction, Int64(limit)])
        } else {
            try await pool.query("""
                SELECT \(Self.messageColumns) FROM messages
                WHERE tenant_id = $1 AND seq > $2 AND ($3::text IS NULL OR direction = $3)
                ORDER BY seq LIMIT $4
                """, [tenantID, seq, direction, Int64(limit)])
        }
        return try rows.map { try Self.message(from: $0, raw: false) }
    }

    /// One message of the tenant, with its raw bytes.
    public func message(_ id: UUID, tenantID: UUID) async throws -> StoredMessage? {
        try await pool.query(
            "SELECT \(Self.messageColumns), raw FROM messages WHERE id = $1 AND tenant_id = $2", [id, tenantID]
        ).first.map { try Self.message(from: $0, raw: true) }
    }
}
