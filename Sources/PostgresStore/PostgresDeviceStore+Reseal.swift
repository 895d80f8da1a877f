import DevicePool
import Foundation
import Messaging
import PostgresClient
import Signal

extension PostgresDeviceStore {
    /// Re-seals every Signal row (sessions, identities, sender keys) not sealed under
    /// `sealer.current`, as `resealAll` does for credentials: 500 rows per batch, each replaced only
    /// if it is still the row that was read (an owner may write a newer one meanwhile). Returns how
    /// many were re-sealed and the rows the configured keys cannot open.
    public func resealProtocolState(
        with sealer: CredentialSealer
    ) async throws -> (resealed: Int, unreadable: [(deviceID: UUID, kind: String, keyID: String)]) {
        var resealed = 0
        var unreadable: [(deviceID: UUID, kind: String, keyID: String)] = []
        for table in SealedSignalTable.all {
            var seen = Set<String>()
            while true {
                let rows = try await pool.query(table.select, [sealer.current.id, Int64(500)])
                let batch = try rows.map { row in
                    (deviceID: try row.decode("device_id", as: UUID.self), kind: try table.kind(row),
                     keys: try table.keys(row), sealed: SealedCredential(keyID: try row.decode("key_id"), bytes: try row.decode("sealed")))
                }.filter { !seen.contains("\($0.deviceID)/\($0.kind)") }
                if batch.isEmpty { break }
                for row in batch {
                    seen.insert("\(row.deviceID)/\(row.kind)")
                    do {
                        let plain = try sealer.open(row.sealed, deviceID: row.deviceID, kind: row.kind)
                        let fresh = try sealer.seal(plain, deviceID: row.deviceID, kind: row.kind)
                        let updated = try await pool.query(
                            table.update, [row.deviceID] + row.keys + [row.sealed.bytes, fresh.keyID, fresh.bytes]
                        )
                        resealed += updated.isEmpty ? 0 : 1
                    } catch is SealingError {
                        unreadable.append((row.deviceID, row.kind, row.sealed.keyID))
                    }
                }
            }
        }
        return (resealed, unreadable)
    }
}

/// A table of sealed Signal rows: how to find rows under other keys, how each is named for sealing,
/// and how to replace one.
private struct SealedSignalTable {
    let select: String
    let update: String
    let kind: @Sendable (PostgresRow) throws -> String
    let keys: @Sendable (PostgresRow) throws -> [any PostgresEncodable]

    static let all = [
        SealedSignalTable(
            select: "SELECT device_id, name, device, key_id, sealed FROM signal_sessions WHERE key_id <> $1 ORDER BY device_id, name, device LIMIT $2",
            update: """
                UPDATE signal_sessions SET key_id = $5, sealed = $6
                WHERE device_id = $1 AND name = $2 AND device = $3 AND sealed = $4 RETURNING device_id
                """,
            kind: { PostgresProtocolStore.sessionKind(try address($0)) },
            keys: { [try $0.decode("name", as: String.self), try $0.decode("device", as: Int32.self)] }
        ),
        SealedSignalTable(
            select: "SELECT device_id, name, device, key_id, sealed FROM signal_identities WHERE key_id <> $1 ORDER BY device_id, name, device LIMIT $2",
            update: """
                UPDATE signal_identities SET key_id = $5, sealed = $6
                WHERE device_id = $1 AND name = $2 AND device = $3 AND sealed = $4 RETURNING device_id
                """,
            kind: { PostgresProtocolStore.identityKind(try address($0)) },
            keys: { [try $0.decode("name", as: String.self), try $0.decode("device", as: Int32.self)] }
        ),
        SealedSignalTable(
            select: """
                SELECT device_id, group_jid, sender_name, sender_device, key_id, sealed FROM signal_sender_keys
                WHERE key_id <> $1 ORDER BY device_id, group_jid, sender_name, sender_device LIMIT $2
                """,
            update: """
                UPDATE signal_sender_keys SET key_id = $6, sealed = $7
                WHERE device_id = $1 AND group_jid = $2 AND sender_name = $3 AND sender_device = $4 AND sealed = $5 RETURNING device_id
                """,
            kind: { row in
                PostgresProtocolStore.senderKeyKind(SenderKeyID(
                    group: try row.decode("group_jid"),
                    sender: SignalAddress(name: try row.decode("sender_name"), device: UInt32(try row.decode("sender_device", as: Int32.self)))
                ))
            },
            keys: { [try $0.decode("group_jid", as: String.self), try $0.decode("sender_name", as: String.self),
                     try $0.decode("sender_device", as: Int32.self)] }
        ),
    ]

    private static func address(_ row: PostgresRow) throws -> SignalAddress {
        SignalAddress(name: try row.decode("name"), device: UInt32(try row.decode("device", as: Int32.self)))
    }
}
