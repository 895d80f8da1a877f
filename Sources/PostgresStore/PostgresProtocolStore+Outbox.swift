import DevicePool
import Foundation
import Messaging
import PostgresClient
import Webhooks
import WAWire

extension PostgresProtocolStore: OutboxStore {
    /// The outbound part of a commit: the attempt of the message being sent (counted, and logged in
    /// `message_attempts` with the lease that fences this transaction and the connection it goes
    /// on), status changes (each one that moves a status emits `message.status` in this
    /// transaction), dropped device lists.
    static func writeOutbound(_ changes: ProtocolChanges, lease: Lease, tenantID: UUID, on connection: PostgresConnection) throws {
        let deviceID = lease.deviceID
        if let sending = changes.sendingMessage {
            // The lease's expiry is read here, under the fence's lock on the device row.
            try connection.query("""
                WITH sent AS (
                    UPDATE messages SET attempts = attempts + 1
                    WHERE device_id = $1 AND direction = 'out' AND wa_id = $2
                    RETURNING id, attempts
                )
                INSERT INTO message_attempts (message_id, attempt, instance, lease_epoch, lease_expires_at, connection)
                SELECT sent.id, sent.attempts, $3, $4, d.lease_expires_at, $5 FROM sent JOIN devices d ON d.id = $1
                """, [deviceID, sending, lease.owner, lease.epoch, changes.sendingConnection])
        }
        for change in changes.outboundStatuses {
            try applyStatus(change, deviceID: deviceID, tenantID: tenantID, on: connection)
        }
        if !changes.forgottenDeviceLists.isEmpty {
            try connection.query(
                "DELETE FROM device_lists WHERE device_id = $1 AND user_jid = ANY ($2::text[])",
                [deviceID, PostgresArray(changes.forgottenDeviceLists.sorted())]
            )
        }
        if !changes.resetSenderKeyHolders.isEmpty {
            try connection.query(
                "DELETE FROM sender_key_holders WHERE device_id = $1 AND group_jid = ANY ($2::text[])",
                [deviceID, PostgresArray(changes.resetSenderKeyHolders.sorted().map(Text.clean))]
            )
        }
        for (group, holders) in changes.senderKeyHolders.sorted(by: { $0.key < $1.key }) where !holders.isEmpty {
            try connection.query("""
                INSERT INTO sender_key_holders (device_id, group_jid, holder)
                SELECT $1, $2, h FROM unnest($3::text[]) AS h
                ON CONFLICT DO NOTHING
                """, [deviceID, Text.clean(group), PostgresArray(holders.sorted().map(Text.clean))])
        }
    }

    private static let ranks = ["queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4]

    /// Records the time of `change` (the first of each kind wins) and moves the status forward; a
    /// failed message stays failed, and only a queued one can fail.
    static func applyStatus(_ change: OutboundStatusChange, deviceID: UUID, tenantID: UUID, on connection: PostgresConnection) throws {
        guard let row = try connection.query("""
            SELECT id, chat, status FROM messages WHERE device_id = $1 AND direction = 'out' AND wa_id = $2 FOR UPDATE
            """, [deviceID, Text.clean(change.messageID)]).first
        else {
            // A receipt for a message that is not ours (or was deleted by retention).
            return
        }
        let id: UUID = try row.decode("id")
        let current: String = try row.decode("status")
        let moves: Bool
        switch change.status {
        case .failed: moves = current == "queued"
        default: moves = current != "failed" && (ranks[current] ?? 0) < (ranks[change.status.rawValue] ?? 0)
        }
        let column = switch change.status {
        case .sent: "acked_at"
        case .delivered: "delivered_at"
        case .read: "read_at"
        case .failed: "failed_at"
        }
        // A read implies delivery: its time stands for both when no delivery receipt came first.
        let alsoDelivered = change.status == .read ? ", delivered_at = coalesce(delivered_at, $2)" : ""
        try connection.query("""
            UPDATE messages SET \(column) = coalesce(\(column), $2)\(alsoDelivered),
                   status = CASE WHEN $3 THEN $4 ELSE status END,
                   failure_reason = CASE WHEN $3 AND $4 = 'failed' THEN $5 ELSE failure_reason END
            WHERE id = $1
            """, [id, change.at, moves, change.status.rawValue, change.failureReason])
        guard moves, let status = MessageStatusChanged.Status(rawValue: change.status.rawValue) else {
            return
        }
        let data = MessageStatusChanged(
            messageID: id.uuidString.lowercased(), waID: change.messageID, chat: try row.decode("chat"), status: status,
            failureReason: change.status == .failed ? change.failureReason : nil, statusAt: change.at
        )
        try WebhookOutbox.emit(.messageStatus(data), tenantID: tenantID, deviceID: deviceID, at: change.at, on: connection)
    }

    /// Runs `body` in a transaction that holds the device's lease epoch; throws `LeaseLost` otherwise.
    @discardableResult
    private func fenced<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let lease = lease
        let result: T? = try await pool.withTransaction { connection in
            guard !(try connection.query(
                "SELECT 1 FROM devices WHERE id = $1 AND lease_epoch = $2 FOR SHARE", [lease.deviceID, lease.epoch]
            )).isEmpty else {
                return nil
            }
            return try body(connection)
        }
        guard let result else {
            throw LeaseLost(deviceID: lease.deviceID)
        }
        return result
    }

    public func nextQueued(notBefore: Date, now: Date) async throws -> QueuedMessage? {
        let (deviceID, tenantID) = (lease.deviceID, tenantID)
        return try await fenced { connection in
            let expired: [String] = try connection.query("""
                SELECT wa_id FROM messages WHERE device_id = $1 AND status = 'queued' AND queued_at < $2 ORDER BY seq
                """, [deviceID, notBefore]).map { try $0.decode(0) }
            for waID in expired {
                try Self.applyStatus(
                    OutboundStatusChange(messageID: waID, status: .failed, at: now, failureReason: "expired"),
                    deviceID: deviceID, tenantID: tenantID, on: connection
                )
            }
            return try connection.query("""
                SELECT wa_id, chat, raw, queued_at FROM messages WHERE device_id = $1 AND status = 'queued' ORDER BY seq LIMIT 1
                """, [deviceID]).first.flatMap { row -> QueuedMessage? in
                guard let chat = JID(parsing: try row.decode("chat")) else { return nil }
                return QueuedMessage(messageID: try row.decode("wa_id"), chat: chat, raw: try row.decode("raw"), queuedAt: try row.decode("queued_at"))
            }
        }
    }

    public func deviceLists(_ users: [JID]) async throws -> [JID: [JID]] {
        let rows = try await pool.query(
            "SELECT user_jid, devices FROM device_lists WHERE device_id = $1 AND user_jid = ANY ($2::text[])",
            [lease.deviceID, PostgresArray(users.map(\.description))]
        )
        var lists: [JID: [JID]] = [:]
        for row in rows {
            guard let user = JID(parsing: try row.decode("user_jid")) else { continue }
            let devices: PostgresArray<String> = try row.decode("devices")
            lists[user] = devices.elements.compactMap(JID.init(parsing:))
        }
        return lists
    }

    public func senderKeyHolders(of group: JID) async throws -> Set<JID> {
        let rows = try await pool.query(
            "SELECT holder FROM sender_key_holders WHERE device_id = $1 AND group_jid = $2", [lease.deviceID, group.userJID.description]
        )
        return Set(try rows.compactMap { JID(parsing: try $0.decode("holder")) })
    }

    public func sentMessage(_ messageID: String) async throws -> QueuedMessage? {
        try await pool.query("""
            SELECT wa_id, chat, raw, queued_at FROM messages
            WHERE device_id = $1 AND direction = 'out' AND wa_id = $2 AND status <> 'failed'
            """, [lease.deviceID, Text.clean(messageID)]).first.flatMap { row -> QueuedMessage? in
            guard let chat = JID(parsing: try row.decode("chat")) else { return nil }
            return QueuedMessage(messageID: try row.decode("wa_id"), chat: chat, raw: try row.decode("raw"), queuedAt: try row.decode("queued_at"))
        }
    }

    public func saveDeviceList(_ devices: [JID], of user: JID) async throws {
        let deviceID = lease.deviceID
        try await fenced { connection in
            try connection.query("""
                INSERT INTO device_lists (device_id, user_jid, devices) VALUES ($1, $2, $3::text[])
                ON CONFLICT (device_id, user_jid) DO UPDATE SET devices = excluded.devices, fetched_at = now()
                """, [deviceID, user.description, PostgresArray(devices.map(\.description))])
        }
    }

    public func forgetDeviceLists(_ users: [JID]) async throws {
        try await pool.query(
            "DELETE FROM device_lists WHERE device_id = $1 AND user_jid = ANY ($2::text[])",
            [lease.deviceID, PostgresArray(users.map(\.description))]
        )
    }
}

extension PostgresDeviceStore {
    public func expireQueuedMessages(olderThan age: Duration, limit: Int) async throws -> Int {
        try await pool.withTransaction { connection in
            // SKIP LOCKED: two instances sweeping at once take different rows.
            let due = try connection.query("""
                SELECT m.device_id, m.tenant_id, m.wa_id FROM messages m JOIN devices d ON d.id = m.device_id
                WHERE m.status = 'queued' AND m.queued_at < now() - make_interval(secs => $1) AND d.state <> 'online'
                ORDER BY m.queued_at LIMIT $2 FOR UPDATE OF m SKIP LOCKED
                """, [age.seconds, Int64(limit)])
            for row in due {
                try PostgresProtocolStore.applyStatus(
                    OutboundStatusChange(messageID: try row.decode("wa_id"), status: .failed, at: Date(), failureReason: "expired"),
                    deviceID: try row.decode("device_id"), tenantID: try row.decode("tenant_id"), on: connection
                )
            }
            return due.count
        }
    }

    /// A device that logs out (or is reset) can send nothing more: its queue fails with `logged_out`,
    /// in the transaction that wipes its credentials.
    static func failQueue(deviceID: UUID, reason: String, on connection: PostgresConnection) throws {
        let queued = try connection.query(
            "SELECT tenant_id, wa_id FROM messages WHERE device_id = $1 AND status = 'queued' ORDER BY seq", [deviceID]
        )
        for row in queued {
            try PostgresProtocolStore.applyStatus(
                OutboundStatusChange(messageID: try row.decode("wa_id"), status: .failed, at: Date(), failureReason: reason),
                deviceID: deviceID, tenantID: try row.decode("tenant_id"), on: connection
            )
        }
    }
}
