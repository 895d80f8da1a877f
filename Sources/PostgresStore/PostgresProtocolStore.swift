import DevicePool
import Foundation
import Messaging
import PostgresClient
import Signal

/// One device's Signal state and inbox in PostgreSQL (migrations/0002_messaging.sql), for the device's
/// owner: every row sealed with the credential sealer under a kind naming the row, every commit one
/// transaction fenced by the lease epoch (`FOR SHARE` on the device row, so a takeover waits for it
/// and a stale owner's commit writes nothing and throws `LeaseLost`).
public struct PostgresProtocolStore: ProtocolStore {
    let pool: PostgresPool
    let sealer: TenantSealer
    let lease: Lease
    let tenantID: UUID

    public init(pool: PostgresPool, sealer: CredentialSealer, lease: Lease, tenantID: UUID) {
        self.pool = pool
        self.sealer = sealer.tenant(tenantID)
        self.lease = lease
        self.tenantID = tenantID
    }

    var deviceID: UUID { lease.deviceID }

    // MARK: Sealing kinds

    static func sessionKind(_ address: SignalAddress) -> String {
        "signal-session:\(Text.clean(address.name)):\(address.device)"
    }

    static func identityKind(_ address: SignalAddress) -> String {
        "signal-identity:\(Text.clean(address.name)):\(address.device)"
    }

    static func senderKeyKind(_ id: SenderKeyID) -> String {
        "signal-sender-key:\(Text.clean(id.group))|\(Text.clean(id.sender.name)):\(id.sender.device)"
    }

    // MARK: Loading

    public func load(_ request: StateRequest) async throws -> ProtocolState {
        let deviceID = deviceID
        let rows: [PostgresRow] = try await pool.withConnection { connection in
            var rows = Array(try connection.query(Self.exactQuery, Self.exactParameters(request, deviceID: deviceID)))
            if !request.names.isEmpty {
                rows += try connection.query(Self.namesQuery, [deviceID, PostgresArray(request.names.map(Text.clean))])
            }
            return rows
        }
        var state = ProtocolState()
        let original = Originals(request)
        for row in rows {
            try read(row, into: &state, original: original)
        }
        return state
    }

    /// The strings of a request as the caller spelled them, by their stored form: a row is answered
    /// under the caller's key even when `Text.clean` changed it.
    struct Originals {
        var strings: [String: String] = [:]
        var inbox: [InboxKey: InboxKey] = [:]

        init(_ request: StateRequest) {
            let names = request.addresses.map(\.name) + request.senderKeys.map(\.sender.name) + request.names
            for text in names + request.senderKeys.map(\.group) + request.phoneNumbers + request.lids {
                strings[Text.clean(text)] = text
            }
            for key in request.inbox {
                inbox[InboxKey(chat: Text.clean(key.chat), sender: Text.clean(key.sender), messageID: Text.clean(key.messageID))] = key
            }
        }

        func callers(_ stored: String) -> String {
            strings[stored] ?? stored
        }
    }

    /// Everything keyed exactly, in one round trip: part, then up to four keys, then the sealed row.
    static let exactQuery = """
        SELECT 0 AS part, s.name AS a, s.device::int8 AS b, NULL::text AS c, NULL::text AS d, s.key_id, s.sealed
          FROM signal_sessions s JOIN unnest($2::text[], $3::int8[]) AS w(name, device) ON s.name = w.name AND s.device = w.device
         WHERE s.device_id = $1
        UNION ALL
        SELECT 1, i.name, i.device, NULL, NULL, i.key_id, i.sealed
          FROM signal_identities i JOIN unnest($2::text[], $3::int8[]) AS w(name, device) ON i.name = w.name AND i.device = w.device
         WHERE i.device_id = $1
        UNION ALL
        SELECT 2, k.sender_name, k.sender_device, k.group_jid, NULL, k.key_id, k.sealed
          FROM signal_sender_keys k
          JOIN unnest($4::text[], $5::text[], $6::int8[]) AS w(grp, name, device)
            ON k.group_jid = w.grp AND k.sender_name = w.name AND k.sender_device = w.device
         WHERE k.device_id = $1
        UNION ALL
        SELECT 3, m.pn_user, NULL, m.lid_user, NULL, NULL, NULL
          FROM lid_mappings m WHERE m.device_id = $1 AND (m.pn_user = ANY($7::text[]) OR m.lid_user = ANY($8::text[]))
        UNION ALL
        SELECT 4, NULL, p.prekey_id, NULL, NULL, NULL, NULL
          FROM signal_prekeys_used p WHERE p.device_id = $1 AND p.prekey_id = ANY($9::int8[])
        UNION ALL
        SELECT 5, x.chat, NULL, x.sender, x.wa_id || chr(31) || x.type, NULL, NULL
          FROM messages x
          JOIN unnest($10::text[], $11::text[], $12::text[]) AS w(chat, sender, wa_id)
            ON x.chat = w.chat AND x.sender = w.sender AND x.wa_id = w.wa_id
         WHERE x.device_id = $1 AND x.direction = 'in'
        """

    /// Every session, identity and sender key of some address names (moving a phone number's state
    /// to its LID; forgetting a user).
    static let namesQuery = """
        SELECT 0 AS part, name AS a, device::int8 AS b, NULL::text AS c, NULL::text AS d, key_id, sealed
          FROM signal_sessions WHERE device_id = $1 AND name = ANY($2::text[])
        UNION ALL
        SELECT 1, name, device, NULL, NULL, key_id, sealed
          FROM signal_identities WHERE device_id = $1 AND name = ANY($2::text[])
        UNION ALL
        SELECT 2, sender_name, sender_device, group_jid, NULL, key_id, sealed
          FROM signal_sender_keys WHERE device_id = $1 AND sender_name = ANY($2::text[])
        """

    static func exactParameters(_ request: StateRequest, deviceID: UUID) -> [any PostgresEncodable] {
        let addresses = Array(request.addresses)
        let senderKeys = Array(request.senderKeys)
        let inbox = Array(request.inbox)
        return [
            deviceID,
            PostgresArray(addresses.map { Text.clean($0.name) }), PostgresArray(addresses.map { Int64($0.device) }),
            PostgresArray(senderKeys.map { Text.clean($0.group) }), PostgresArray(senderKeys.map { Text.clean($0.sender.name) }),
            PostgresArray(senderKeys.map { Int64($0.sender.device) }),
            PostgresArray(request.phoneNumbers.map(Text.clean)), PostgresArray(request.lids.map(Text.clean)),
            PostgresArray(request.oneTimePreKeys.map { Int64($0) }),
            PostgresArray(inbox.map { Text.clean($0.chat) }), PostgresArray(inbox.map { Text.clean($0.sender) }),
            PostgresArray(inbox.map { Text.clean($0.messageID) }),
        ]
    }

    private func read(_ row: PostgresRow, into state: inout ProtocolState, original: Originals) throws {
        switch try row.decode("part", as: Int32.self) {
        case 0, 1:
            let address = SignalAddress(
                name: original.callers(try row.decode("a")), device: UInt32(truncatingIfNeeded: try row.decode("b", as: Int64.self))
            )
            let sealed = SealedCredential(keyID: try row.decode("key_id"), bytes: try row.decode("sealed"))
            if try row.decode("part", as: Int32.self) == 0 {
                state.sessions[address] = try sealer.open(sealed, deviceID: deviceID, kind: Self.sessionKind(address))
            } else {
                state.identities[address] = try sealer.open(sealed, deviceID: deviceID, kind: Self.identityKind(address))
            }
        case 2:
            let id = SenderKeyID(
                group: original.callers(try row.decode("c")),
                sender: SignalAddress(
                    name: original.callers(try row.decode("a")), device: UInt32(truncatingIfNeeded: try row.decode("b", as: Int64.self))
                )
            )
            let sealed = SealedCredential(keyID: try row.decode("key_id"), bytes: try row.decode("sealed"))
            state.senderKeys[id] = try sealer.open(sealed, deviceID: deviceID, kind: Self.senderKeyKind(id))
        case 3:
            let phoneNumber = original.callers(try row.decode("a"))
            let lid = original.callers(try row.decode("c"))
            state.lidByPhoneNumber[phoneNumber] = lid
            state.phoneNumberByLID[lid] = phoneNumber
        case 4:
            state.consumedPreKeys.insert(UInt32(truncatingIfNeeded: try row.decode("b", as: Int64.self)))
        default:
            // wa_id and type travel joined by U+001F, which neither can hold after `Text.clean`.
            let joined: String = try row.decode("d")
            let parts = joined.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false)
            let key = InboxKey(chat: try row.decode("a"), sender: try row.decode("c"), messageID: String(parts[0]))
            state.inbox[original.inbox[key] ?? key] = parts.count > 1 ? String(parts[1]) : ""
        }
    }
}

/// Text as PostgreSQL stores it: `text` cannot hold U+0000, which a hostile stanza may carry in an id, a
/// JID or a message; it is stored as U+FFFD (loads and commits map alike, so keys still match). U+001F
/// likewise, because the inbox lookup joins two columns with it.
enum Text {
    static func clean(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == "\u{0}" || $0 == "\u{1F}" }) else {
            return text
        }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\u{0}" || $0 == "\u{1F}" ? "\u{FFFD}" : $0 }))
    }
}
