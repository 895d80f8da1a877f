import DevicePool
import Foundation
import Messaging
import PostgresClient
import Signal

extension PostgresDeviceStore {
    /// Re-seals every Signal row (sessions, identities, sender keys) not sealed under
    /// `sealer.current` in the current format, as `resealAll` does for credentials: every row read,
    /// 500 per batch in key order, each replaced only if it is still the row that was read (an
    /// owner may write a newer one meanwhile). Returns how many were re-sealed and the rows the
    /// configured keys cannot open for their device and its tenant.
    public func resealProtocolState(
        with sealer: CredentialSealer, batchSize: Int = 500
    ) async throws -> (resealed: Int, unreadable: [(deviceID: UUID, kind: String, keyID: String)]) {
        var resealed = 0
        var unreadable: [(deviceID: UUID, kind: String, keyID: String)] = []
        for table in SealedSignalTable.all {
            var cursor: [any PostgresEncodable]?
            while true {
                let rows = try await pool.query(table.select(after: cursor != nil), (cursor ?? []) + [Int64(batchSize)])
                for row in rows {
                    let deviceID = try row.decode("device_id", as: UUID.self)
                    let keys = try table.keys(row)
                    let kind = try table.kind(row)
                    let sealed = SealedCredential(keyID: try row.decode("key_id"), bytes: try row.decode("sealed"))
                    cursor = [deviceID] + keys
                    do {
                        let tenant = sealer.tenant(try row.decode("tenant_id", as: UUID.self))
                        guard let fresh = try tenant.reseal(sealed, deviceID: deviceID, kind: kind) else { continue }
                        let updated = try await pool.query(table.update, [deviceID] + keys + [sealed.bytes, fresh.keyID, fresh.bytes])
                        resealed += updated.isEmpty ? 0 : 1
                    } catch is SealingError {
                        unreadable.append((deviceID, kind, sealed.keyID))
                    }
                }
                if rows.count < batchSize { break }
            }
        }
        return (resealed, unreadable)
    }
}

/// A table of sealed Signal rows: its key columns (after the device id) for paging, how each row
/// is named for sealing, and how to replace one.
private struct SealedSignalTable {
    let table: String
    /// The primary key's columns after `device_id`, with their SQL types.
    let keyColumns: [(name: String, type: String)]
    let update: String
    let kind: @Sendable (PostgresRow) throws -> String
    let keys: @Sendable (PostgresRow) throws -> [any PostgresEncodable]

    /// A page of rows with their device's tenant, in key order; with `after`, past the key in
    /// the first parameters. The limit is the last parameter.
    func select(after: Bool) -> String {
        let columns = ["device_id"] + keyColumns.map(\.name)
        let list = columns.map { "t.\($0)" }.joined(separator: ", ")
        let cursor = zip(columns, ["uuid"] + keyColumns.map(\.type)).enumerated().map { "$\($0.offset + 1)::\($0.element.1)" }
        return """
            SELECT \(list), d.tenant_id, t.key_id, t.sealed FROM \(table) t JOIN devices d ON d.id = t.device_id
            \(after ? "WHERE (\(list)) > (\(cursor.joined(separator: ", ")))" : "")
            ORDER BY \(list) LIMIT $\(after ? columns.count + 1 : 1)
            """
    }

    static let all = [
        SealedSignalTable(
            table: "signal_sessions",
            keyColumns: [("name", "text"), ("device", "integer")],
            update: """
                UPDATE signal_sessions SET key_id = $5, sealed = $6
                WHERE device_id = $1 AND name = $2 AND device = $3 AND sealed = $4 RETURNING device_id
                """,
            kind: { PostgresProtocolStore.sessionKind(try address($0)) },
            keys: { [try $0.decode("name", as: String.self), try $0.decode("device", as: Int32.self)] }
        ),
        SealedSignalTable(
            table: "signal_identities",
            keyColumns: [("name", "text"), ("device", "integer")],
            update: """
                UPDATE signal_identities SET key_id = $5, sealed = $6
                WHERE device_id = $1 AND name = $2 AND device = $3 AND sealed = $4 RETURNING device_id
                """,
            kind: { PostgresProtocolStore.identityKind(try address($0)) },
            keys: { [try $0.decode("name", as: String.self), try $0.decode("device", as: Int32.self)] }
        ),
        SealedSignalTable(
            table: "signal_sender_keys",
            keyColumns: [("group_jid", "text"), ("sender_name", "text"), ("sender_device", "integer")],
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
