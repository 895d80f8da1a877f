import DevicePool
import Foundation
import Messaging
import PostgresClient
import Signal
import Webhooks

extension PostgresProtocolStore {
    /// One transaction: the fence, deletions, writes, consumed prekeys (a second consumption fails the
    /// whole commit), mappings, identity changes, the inbox row (kept once), the retry-prekey count.
    public func commit(_ changes: ProtocolChanges) async throws -> CommitReceipt {
        let sealed = try Sealed(changes, store: self)
        let lease = lease
        let tenantID = tenantID
        let receipt: CommitReceipt? = try await pool.withTransaction { connection in
            let owned = try connection.query(
                "SELECT 1 FROM devices WHERE id = $1 AND lease_epoch = $2 FOR SHARE", [lease.deviceID, lease.epoch]
            )
            guard !owned.isEmpty else {
                return nil
            }
            return try Self.write(changes, sealed: sealed, lease: lease, tenantID: tenantID, on: connection)
        }
        guard let receipt else {
            throw LeaseLost(deviceID: lease.deviceID)
        }
        return receipt
    }

    /// The rows to write, sealed before the transaction starts (no crypto while it holds locks).
    struct Sealed: Sendable {
        var sessions: [(name: String, device: Int64, sealed: SealedCredential)] = []
        var identities: [(name: String, device: Int64, sealed: SealedCredential, fingerprint: String)] = []
        var senderKeys: [(group: String, name: String, device: Int64, sealed: SealedCredential)] = []

        init(_ changes: ProtocolChanges, store: PostgresProtocolStore) throws {
            let (sealer, deviceID) = (store.sealer, store.deviceID)
            for (address, bytes) in changes.sessions {
                let sealed = try sealer.seal(bytes, deviceID: deviceID, kind: PostgresProtocolStore.sessionKind(address))
                sessions.append((Text.clean(address.name), Int64(address.device), sealed))
            }
            for (address, key) in changes.identities {
                let sealed = try sealer.seal(key, deviceID: deviceID, kind: PostgresProtocolStore.identityKind(address))
                identities.append((Text.clean(address.name), Int64(address.device), sealed, IdentityFingerprint.of(key)))
            }
            for (id, bytes) in changes.senderKeys {
                let sealed = try sealer.seal(bytes, deviceID: deviceID, kind: PostgresProtocolStore.senderKeyKind(id))
                senderKeys.append((Text.clean(id.group), Text.clean(id.sender.name), Int64(id.sender.device), sealed))
            }
        }
    }

    private static func write(
        _ changes: ProtocolChanges, sealed: Sealed, lease: Lease, tenantID: UUID, on connection: PostgresConnection
    ) throws -> CommitReceipt {
        let deviceID = lease.deviceID
        try deleteRows(changes, deviceID: deviceID, on: connection)
        if !sealed.sessions.isEmpty {
            try connection.query("""
                INSERT INTO signal_sessions (device_id, name, device, key_id, sealed)
                SELECT $1, w.name, w.device, w.key_id, w.sealed FROM unnest($2::text[], $3::int8[], $4::text[], $5::bytea[]) AS w(name, device, key_id, sealed)
                ON CONFLICT (device_id, name, device) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, updated_at = now()
                """, [deviceID, PostgresArray(sealed.sessions.map(\.name)), PostgresArray(sealed.sessions.map(\.device)),
                      PostgresArray(sealed.sessions.map(\.sealed.keyID)), PostgresArray(sealed.sessions.map(\.sealed.bytes))])
        }
        if !sealed.identities.isEmpty {
            // A new key restarts first_seen_at; the same key written again keeps it.
            try connection.query("""
                INSERT INTO signal_identities (device_id, name, device, key_id, sealed, fingerprint)
                SELECT $1, w.name, w.device, w.key_id, w.sealed, w.fingerprint
                  FROM unnest($2::text[], $3::int8[], $4::text[], $5::bytea[], $6::text[]) AS w(name, device, key_id, sealed, fingerprint)
                ON CONFLICT (device_id, name, device) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed,
                    first_seen_at = CASE WHEN signal_identities.fingerprint = excluded.fingerprint
                                         THEN signal_identities.first_seen_at ELSE now() END,
                    fingerprint = excluded.fingerprint, updated_at = now()
                """, [deviceID, PostgresArray(sealed.identities.map(\.name)), PostgresArray(sealed.identities.map(\.device)),
                      PostgresArray(sealed.identities.map(\.sealed.keyID)), PostgresArray(sealed.identities.map(\.sealed.bytes)),
                      PostgresArray(sealed.identities.map(\.fingerprint))])
        }
        if !sealed.senderKeys.isEmpty {
            try connection.query("""
                INSERT INTO signal_sender_keys (device_id, group_jid, sender_name, sender_device, key_id, sealed)
                SELECT $1, w.grp, w.name, w.device, w.key_id, w.sealed
                  FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[], $6::bytea[]) AS w(grp, name, device, key_id, sealed)
                ON CONFLICT (device_id, group_jid, sender_name, sender_device)
                DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, updated_at = now()
                """, [deviceID, PostgresArray(sealed.senderKeys.map(\.group)), PostgresArray(sealed.senderKeys.map(\.name)),
                      PostgresArray(sealed.senderKeys.map(\.device)), PostgresArray(sealed.senderKeys.map(\.sealed.keyID)),
                      PostgresArray(sealed.senderKeys.map(\.sealed.bytes))])
        }
        if !changes.consumedPreKeys.isEmpty {
            // No ON CONFLICT: a prekey consumed twice is a bug the transaction must not hide.
            try connection.query(
                "INSERT INTO signal_prekeys_used (device_id, prekey_id) SELECT $1, unnest($2::int8[])",
                [deviceID, PostgresArray(changes.consumedPreKeys.sorted().map { Int64($0) })]
            )
        }
        if !changes.lidMappings.isEmpty {
            // The last pair for a phone number wins within one commit, as it would across two.
            let pairs = Dictionary(changes.lidMappings.map { (Text.clean($0.phoneNumber), Text.clean($0.lid)) }) { _, last in last }
            try connection.query("""
                INSERT INTO lid_mappings (device_id, pn_user, lid_user)
                SELECT $1, w.pn, w.lid FROM unnest($2::text[], $3::text[]) AS w(pn, lid)
                ON CONFLICT (device_id, pn_user) DO UPDATE SET lid_user = excluded.lid_user, updated_at = now()
                """, [deviceID, PostgresArray(Array(pairs.keys)), PostgresArray(Array(pairs.values))])
        }
        if !changes.identityChanges.isEmpty {
            // Arrays hold no NULL: a forgotten identity's new fingerprint travels as ''.
            try connection.query("""
                INSERT INTO signal_identity_changes (device_id, address, previous_fingerprint, new_fingerprint)
                SELECT $1, w.address, w.previous, nullif(w.new, '') FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS w(address, previous, new, n)
                ORDER BY w.n
                """, [deviceID, PostgresArray(changes.identityChanges.map { Text.clean($0.address.description) }),
                      PostgresArray(changes.identityChanges.map(\.previousFingerprint)),
                      PostgresArray(changes.identityChanges.map { $0.newFingerprint ?? "" })])
        }
        if let message = changes.message {
            let stored = try connection.query("""
                INSERT INTO messages (tenant_id, device_id, direction, chat, sender, wa_id, sent_at, type, text, raw, from_me)
                VALUES ($1, $2, 'in', $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (device_id, direction, chat, sender, wa_id) DO NOTHING
                RETURNING id, chat, sender, wa_id, sent_at, type, text, received_at
                """, [tenantID, deviceID, Text.clean(message.key.chat), Text.clean(message.key.sender), Text.clean(message.key.messageID),
                      message.sentAt, Text.clean(message.type), message.text.map(Text.clean), message.raw, message.fromMe])
            // Only a new row is news: a redelivered stanza found its row and emits nothing again.
            if let row = stored.first {
                try emitMessageReceived(row, fromMe: message.fromMe, tenantID: tenantID, deviceID: deviceID, on: connection)
            }
        }
        try writeOutbound(changes, lease: lease, tenantID: tenantID, on: connection)
        guard changes.reservesRetryPreKey else {
            return CommitReceipt()
        }
        let reserved: Int64 = try connection.query("""
            INSERT INTO signal_retry_prekeys AS r (device_id, reserved) VALUES ($1, 1)
            ON CONFLICT (device_id) DO UPDATE SET reserved = r.reserved + 1
            RETURNING reserved
            """, [deviceID])[0].decode(0)
        return CommitReceipt(retryPreKeySequence: UInt64(reserved - 1))
    }

    private static func deleteRows(_ changes: ProtocolChanges, deviceID: UUID, on connection: PostgresConnection) throws {
        if !changes.deletedSessions.isEmpty {
            let addresses = Array(changes.deletedSessions)
            try connection.query("""
                DELETE FROM signal_sessions s USING unnest($2::text[], $3::int8[]) AS w(name, device)
                WHERE s.device_id = $1 AND s.name = w.name AND s.device = w.device
                """, [deviceID, PostgresArray(addresses.map { Text.clean($0.name) }), PostgresArray(addresses.map { Int64($0.device) })])
        }
        if !changes.deletedIdentities.isEmpty {
            let addresses = Array(changes.deletedIdentities)
            try connection.query("""
                DELETE FROM signal_identities i USING unnest($2::text[], $3::int8[]) AS w(name, device)
                WHERE i.device_id = $1 AND i.name = w.name AND i.device = w.device
                """, [deviceID, PostgresArray(addresses.map { Text.clean($0.name) }), PostgresArray(addresses.map { Int64($0.device) })])
        }
        if !changes.deletedSenderKeys.isEmpty {
            let ids = Array(changes.deletedSenderKeys)
            try connection.query("""
                DELETE FROM signal_sender_keys k USING unnest($2::text[], $3::text[], $4::int8[]) AS w(grp, name, device)
                WHERE k.device_id = $1 AND k.group_jid = w.grp AND k.sender_name = w.name AND k.sender_device = w.device
                """, [deviceID, PostgresArray(ids.map { Text.clean($0.group) }), PostgresArray(ids.map { Text.clean($0.sender.name) }),
                      PostgresArray(ids.map { Int64($0.sender.device) })])
        }
    }
}

extension PostgresProtocolStore {
    /// `message.received`, in the transaction that stored the row, with the row's values (cleaned
    /// as stored) so the event and `GET /messages/{id}` agree.
    static func emitMessageReceived(
        _ row: PostgresRow, fromMe: Bool, tenantID: UUID, deviceID: UUID, on connection: PostgresConnection
    ) throws {
        let id: UUID = try row.decode("id")
        let receivedAt: Date = try row.decode("received_at")
        let data = MessageReceived(
            messageID: id.uuidString.lowercased(), waID: try row.decode("wa_id"), chat: try row.decode("chat"),
            sender: try row.decode("sender"), fromMe: fromMe, messageType: try row.decode("type"), text: try row.decode("text"),
            sentAt: try row.decode("sent_at"), receivedAt: receivedAt
        )
        try WebhookOutbox.emit(.messageReceived(data), tenantID: tenantID, deviceID: deviceID, at: receivedAt, on: connection)
    }
}
