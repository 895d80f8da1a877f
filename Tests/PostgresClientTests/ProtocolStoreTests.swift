import DevicePool
import Foundation
import Messaging
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Signal
import Testing
import WAClient
import WAWire

/// The receive path's PostgreSQL store: sealed rows that come back as they went in, commits fenced by
/// the lease epoch and all or nothing, messages stored once, retention by age. Real Signal sessions
/// go through the real pipeline where the behaviour is end to end.
@Suite("Protocol store in PostgreSQL", .requiresDatabase, .serialized)
struct ProtocolStoreTests {
    static let sealer = CredentialSealer(current: try! MasterKey(parsing: MasterKey.generate(id: "test")))

    struct Device {
        let store: PostgresDeviceStore
        let pool: PostgresPool
        let tenant: UUID
        let lease: Lease
        let credentials: DeviceCredentials

        var protocolStore: any ProtocolStore {
            store.protocolStore(lease, tenantID: tenant, sealer: ProtocolStoreTests.sealer)
        }

        func pipeline() -> InboundPipeline {
            InboundPipeline(store: protocolStore, device: LocalDevice(credentials: credentials)!)
        }

        func count(_ table: String) async throws -> Int {
            try await pool.query("SELECT count(*) FROM \(table) WHERE device_id = $1", [lease.deviceID])[0].decode(0)
        }
    }

    /// A migrated database with a tenant and one device whose lease "a" holds.
    private func withDevice(_ body: (Device) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant = try await TenantStore(pool: pool).create(name: "Acme", hosts: ["acme.example"]).tenant.id
            let store = PostgresDeviceStore(pool: pool)
            let start = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .qr,
                                                     owner: "a", leaseTTL: .seconds(30), window: .seconds(180))
            let credentials = DeviceCredentials.pairedForTests(phoneNumber: "15550001111", lid: "900000000000001", seed: 3)
            try await body(Device(store: store, pool: pool, tenant: tenant, lease: start.lease, credentials: credentials))
            await pool.close()
        }
    }

    static let ann = SignalAddress(name: "123456789012345_1", device: 0)
    static let group = SenderKeyID(group: "120363@g.us", sender: SignalAddress(name: "543210987654321_1", device: 2))

    static func row(_ id: String, at t: Int64 = 1_760_000_000, text: String? = "hi") -> InboxMessage {
        InboxMessage(
            key: InboxKey(chat: "123456789012345@lid", sender: "123456789012345@lid", messageID: id),
            sentAt: Date(timeIntervalSince1970: TimeInterval(t)), type: "text", text: text, raw: [0x0A, 0x02, 0x68, 0x69], fromMe: false
        )
    }

    @Test func whatIsCommittedLoadsBackUnsealedAndKeyedAsWritten() async throws {
        try await withDevice { device in
            let store = device.protocolStore
            var changes = ProtocolChanges()
            changes.sessions = [Self.ann: [1, 2, 3], SignalAddress(name: "15551234567", device: 4): [9]]
            changes.identities = [Self.ann: [UInt8](repeating: 7, count: 32)]
            changes.senderKeys = [Self.group: [4, 5]]
            changes.consumedPreKeys = [17]
            changes.lidMappings = [.init(phoneNumber: "15551234567", lid: "123456789012345")]
            changes.message = Self.row("M1")
            changes.reservesRetryPreKey = true
            #expect(try await store.commit(changes).retryPreKeySequence == 0)

            var request = StateRequest()
            request.addresses = [Self.ann, SignalAddress(name: "nobody", device: 0)]
            request.senderKeys = [Self.group]
            request.phoneNumbers = ["15551234567"]
            request.lids = ["123456789012345"]
            request.oneTimePreKeys = [17, 18]
            request.inbox = [Self.row("M1").key, Self.row("M2").key]
            let state = try await store.load(request)
            #expect(state.sessions == [Self.ann: [1, 2, 3]])
            #expect(state.identities == [Self.ann: [UInt8](repeating: 7, count: 32)])
            #expect(state.senderKeys == [Self.group: [4, 5]])
            #expect(state.lidByPhoneNumber == ["15551234567": "123456789012345"])
            #expect(state.phoneNumberByLID == ["123456789012345": "15551234567"])
            #expect(state.consumedPreKeys == [17])
            #expect(state.inbox == [Self.row("M1").key: "text"])

            // By name: every device's rows of a user, sender keys included.
            var byName = StateRequest()
            byName.names = ["15551234567", "543210987654321_1"]
            let named = try await store.load(byName)
            #expect(named.sessions == [SignalAddress(name: "15551234567", device: 4): [9]])
            #expect(named.senderKeys == [Self.group: [4, 5]])

            // Rows are sealed: the table holds no record bytes in clear, and the fingerprint beside the key.
            let sealed: [UInt8] = try await device.pool.query("SELECT sealed FROM signal_sessions WHERE name = $1", [Self.ann.name])[0].decode(0)
            #expect(sealed != [1, 2, 3] && sealed.count > 3)
            let fingerprint: String = try await device.pool.query("SELECT fingerprint FROM signal_identities")[0].decode(0)
            #expect(fingerprint == IdentityFingerprint.of([UInt8](repeating: 7, count: 32)))
            #expect(try await store.commit({ var next = ProtocolChanges(); next.reservesRetryPreKey = true; return next }()).retryPreKeySequence == 1)
        }
    }

    @Test func aStaleEpochCommitsNothingAndThrowsLeaseLost() async throws {
        try await withDevice { device in
            let stale = device.protocolStore
            try await device.pool.query("UPDATE devices SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [device.lease.deviceID])
            _ = try #require(try await device.store.acquireLease(deviceID: device.lease.deviceID, owner: "b", ttl: .seconds(30)))
            var changes = ProtocolChanges()
            changes.sessions = [Self.ann: [1]]
            changes.consumedPreKeys = [3]
            changes.message = Self.row("M1")
            await #expect(throws: LeaseLost(deviceID: device.lease.deviceID)) { _ = try await stale.commit(changes) }
            for table in ["signal_sessions", "signal_prekeys_used", "messages"] {
                #expect(try await device.count(table) == 0, "\(table)")
            }
        }
    }

    @Test func aPrekeyConsumedTwiceFailsTheWholeCommit() async throws {
        try await withDevice { device in
            let store = device.protocolStore
            var first = ProtocolChanges()
            first.consumedPreKeys = [5]
            _ = try await store.commit(first)
            var second = ProtocolChanges()
            second.consumedPreKeys = [5]
            second.message = Self.row("M2")
            await #expect(throws: PostgresError.self) { _ = try await store.commit(second) }
            #expect(try await device.count("messages") == 0)
        }
    }

    @Test func aSecondPrekeyMessageWithAConsumedPrekeyIsRefusedByTheRealPipeline() async throws {
        try await withDevice { device in
            var ann = TestContact(phoneNumber: "15551234567", lid: "123456789012345", seed: 21)
            var bob = TestContact(phoneNumber: "15557654321", lid: "543210987654321", seed: 22)
            try ann.startSession(with: device.credentials, oneTimePreKeyID: 9)
            try bob.startSession(with: device.credentials, oneTimePreKeyID: 9)
            var random = SeededRandom(seed: 1)
            let pipeline = device.pipeline()
            let first = try await pipeline.receive(ann.direct([try ann.encrypt(TestContact.text("a"))], id: "A1"), using: &random)
            #expect(first.report.disposition == .stored)
            let second = try await pipeline.receive(bob.direct([try bob.encrypt(TestContact.text("b"))], id: "B1"), using: &random)
            #expect(second.report.disposition == .decryptFailed(reason: "unknown_prekey"))
            #expect(try await device.count("signal_prekeys_used") == 1)
        }
    }

    @Test func aRedeliveredStanzaAddsNoSecondRowAndGetsItsReceipt() async throws {
        try await withDevice { device in
            var ann = TestContact(phoneNumber: "15551234567", lid: "123456789012345", seed: 23)
            try ann.startSession(with: device.credentials)
            var random = SeededRandom(seed: 2)
            let stanza = ann.direct([try ann.encrypt(TestContact.text("hello \u{0} there"))], id: "3EB0\u{0}ID")
            let first = try await device.pipeline().receive(stanza, using: &random)
            // A new pipeline (a restarted gateway) finds it from the database alone.
            let again = try await device.pipeline().receive(stanza, using: &random)
            #expect(first.report.disposition == .stored)
            #expect(again.report.disposition == .duplicate)
            #expect(again.answers == first.answers)
            #expect(try await device.count("messages") == 1)
            // Text PostgreSQL cannot hold is stored with U+FFFD.
            let text: String = try await device.pool.query("SELECT text FROM messages")[0].decode(0)
            #expect(text == "hello \u{FFFD} there")
        }
    }

    /// `message.received` is written by the transaction that stored the row, once: a stanza the
    /// server delivers again (to a restarted gateway) stores nothing and emits nothing.
    @Test func aStoredMessageEmitsOneMessageReceivedEventWithItsRow() async throws {
        try await withDevice { device in
            var ann = TestContact(phoneNumber: "15551234567", lid: "123456789012345", seed: 29)
            try ann.startSession(with: device.credentials)
            var random = SeededRandom(seed: 3)
            let stanza = ann.direct([try ann.encrypt(TestContact.text("good morning"))], id: "3EB0AA01")
            #expect(try await device.pipeline().receive(stanza, using: &random).report.disposition == .stored)
            #expect(try await device.pipeline().receive(stanza, using: &random).report.disposition == .duplicate)

            let events = try await device.pool.query(
                "SELECT type, tenant_id, convert_from(body, 'UTF8') FROM webhook_events WHERE device_id = $1 AND type = 'message.received'", [device.lease.deviceID]
            )
            #expect(events.count == 1)
            let stored = try await device.pool.query("SELECT id, chat, sender FROM messages WHERE device_id = $1", [device.lease.deviceID])
            let (id, chat, sender): (UUID, String, String) = (try stored[0].decode(0), try stored[0].decode(1), try stored[0].decode(2))
            let tenant: UUID = try events[0].decode(1)
            #expect(tenant == device.tenant)
            let body = try JSONSerialization.jsonObject(with: Data((try events[0].decode(2) as String).utf8)) as? [String: Any]
            let data = try #require(body?["data"] as? [String: Any])
            #expect(data["message_id"] as? String == id.uuidString.lowercased())
            #expect(data["wa_id"] as? String == "3EB0AA01")
            #expect(data["text"] as? String == "good morning")
            #expect(data["type"] as? String == "text")
            #expect(data["from_me"] as? Bool == false)
            #expect(data["chat"] as? String == chat)
            #expect(data["sender"] as? String == sender)
        }
    }

    @Test func identityChangesAreRecordedWithFingerprintsOnly() async throws {
        try await withDevice { device in
            var ann = TestContact(phoneNumber: "15551234567", lid: "123456789012345", seed: 24)
            try ann.startSession(with: device.credentials)
            var random = SeededRandom(seed: 3)
            _ = try await device.pipeline().receive(ann.direct([try ann.encrypt(TestContact.text("1"))], id: "1"), using: &random)
            let old = IdentityFingerprint.of(ann.identity.keyPair.publicKey)
            ann.reinstall()
            try ann.startSession(with: device.credentials, oneTimePreKeyID: 2)
            let result = try await device.pipeline().receive(ann.direct([try ann.encrypt(TestContact.text("2"))], id: "2"), using: &random)
            #expect(result.report.message?.text == "2")
            let new = IdentityFingerprint.of(ann.identity.keyPair.publicKey)
            let notification = Node("notification", ["from": .jid(ann.lid), "type": "encrypt", "id": "n1"], [Node("identity")])
            _ = try await device.pipeline().receive(notification, using: &random)

            let changes = try await device.pool.query(
                "SELECT address, previous_fingerprint, coalesce(new_fingerprint, '-') FROM signal_identity_changes ORDER BY id"
            ).map { "\(try $0.decode(0, as: String.self)) \(try $0.decode(1, as: String.self)) \(try $0.decode(2, as: String.self))" }
            #expect(changes == ["123456789012345_1:0 \(old) \(new)", "123456789012345_1:0 \(new) -"])
            #expect(try await device.count("signal_sessions") == 0)
            #expect(try await device.count("signal_identities") == 0)
        }
    }

    @Test func phoneNumberStateMovesToTheLIDWhenTheMappingAppears() async throws {
        try await withDevice { device in
            var bob = TestContact(phoneNumber: "15557654321", lid: "543210987654321", device: 2, seed: 25)
            try bob.startSession(with: device.credentials)
            var random = SeededRandom(seed: 4)
            let group = JID(user: "120363", server: .group)
            // A phone-number-addressed group message first: session and sender key under the number.
            var first = bob.group(group, [try bob.encrypt(try bob.distribution(for: group)), try bob.groupEncrypt(TestContact.text("1"), group: group)], id: "G1")
            first.attributes["participant"] = .jid(bob.phoneNumberDevice)
            first.attributes["addressing_mode"] = nil
            first.attributes["participant_pn"] = nil
            _ = try await device.pipeline().receive(first, using: &random)
            #expect(try await device.pool.query("SELECT name FROM signal_sessions").map { try $0.decode(0, as: String.self) } == ["15557654321"])
            // Then LID-addressed with the number beside it: everything moves, and still decrypts.
            let second = bob.group(group, [try bob.groupEncrypt(TestContact.text("2"), group: group)], id: "G2")
            let result = try await device.pipeline().receive(second, using: &random)
            #expect(result.report.message?.text == "2")
            #expect(try await device.pool.query("SELECT name FROM signal_sessions").map { try $0.decode(0, as: String.self) } == ["543210987654321_1"])
            #expect(try await device.pool.query("SELECT sender_name FROM signal_sender_keys").map { try $0.decode(0, as: String.self) } == ["543210987654321_1"])
            #expect(try await device.pool.query("SELECT lid_user FROM lid_mappings").map { try $0.decode(0, as: String.self) } == ["543210987654321"])
        }
    }

    @Test func retentionDeletesOnlyMessagesPastTheirAgeInBatches() async throws {
        try await withDevice { device in
            let store = device.protocolStore
            for index in 0..<5 {
                var changes = ProtocolChanges()
                changes.message = Self.row("M\(index)")
                _ = try await store.commit(changes)
            }
            try await device.pool.query(
                "UPDATE messages SET received_at = now() - interval '31 days' WHERE wa_id IN ('M0', 'M1', 'M2')"
            )
            #expect(try await device.store.deleteMessages(olderThan: .seconds(30 * 86_400), limit: 2) == 2)
            #expect(try await device.store.deleteMessages(olderThan: .seconds(30 * 86_400), limit: 2) == 1)
            #expect(try await device.store.deleteMessages(olderThan: .seconds(30 * 86_400), limit: 2) == 0)
            let left = try await device.pool.query("SELECT wa_id FROM messages ORDER BY seq").map { try $0.decode(0, as: String.self) }
            #expect(left == ["M3", "M4"])
        }
    }

    @Test func signalRowsOpenOnlyForTheTenantThatSealedThem() async throws {
        try await withDevice { device in
            var changes = ProtocolChanges()
            changes.sessions = [Self.ann: [1, 2]]
            changes.identities = [Self.ann: [UInt8](repeating: 3, count: 32)]
            changes.senderKeys = [Self.group: [4]]
            _ = try await device.protocolStore.commit(changes)
            for table in ["signal_sessions", "signal_identities", "signal_sender_keys"] {
                let row = try await device.pool.query("SELECT sealed FROM \(table) WHERE device_id = $1", [device.lease.deviceID])[0]
                #expect(try row.decode(0, as: [UInt8].self).first == 2, "\(table) in the tenant-bound format")
            }
            var request = StateRequest()
            request.addresses = [Self.ann]
            request.senderKeys = [Self.group]
            let state = try await device.protocolStore.load(request)
            #expect(state.sessions[Self.ann] == [1, 2])
            #expect(state.identities[Self.ann] == [UInt8](repeating: 3, count: 32))
            #expect(state.senderKeys[Self.group] == [4])
            // The same device's rows read as another tenant's (a device moved between tenants by
            // hand) do not open: a clear error, nothing decrypted.
            var sessionOnly = StateRequest(), senderKeyOnly = StateRequest()
            sessionOnly.addresses = [Self.ann]
            senderKeyOnly.senderKeys = [Self.group]
            for one in [sessionOnly, senderKeyOnly] {
                let error = await #expect(throws: SealingError.self) {
                    _ = try await device.store.protocolStore(device.lease, tenantID: UUID(), sealer: Self.sealer).load(one)
                }
                #expect(error?.code == .tampered)
            }
        }
    }

    @Test func keyRotationReSealsSignalRowsSoTheOldKeyCanGo() async throws {
        try await withDevice { device in
            var changes = ProtocolChanges()
            changes.sessions = [Self.ann: [1, 2]]
            changes.identities = [Self.ann: [UInt8](repeating: 3, count: 32)]
            changes.senderKeys = [Self.group: [4]]
            _ = try await device.protocolStore.commit(changes)
            let new = try MasterKey(parsing: MasterKey.generate(id: "new"))
            let rotated = try await device.store.resealProtocolState(with: CredentialSealer(current: new, previous: [Self.sealer.current]))
            #expect(rotated.resealed == 3)
            #expect(rotated.unreadable.isEmpty)
            var request = StateRequest()
            request.addresses = [Self.ann]
            request.senderKeys = [Self.group]
            let state = try await device.store.protocolStore(device.lease, tenantID: device.tenant, sealer: CredentialSealer(current: new)).load(request)
            #expect(state.sessions[Self.ann] == [1, 2])
            #expect(state.identities[Self.ann] == [UInt8](repeating: 3, count: 32))
            #expect(state.senderKeys[Self.group] == [4])
            // Rows no configured key opens are reported by the kind that names them, not lost.
            let blind = try await device.store.resealProtocolState(with: CredentialSealer(current: try MasterKey(parsing: MasterKey.generate(id: "x"))))
            #expect(blind.resealed == 0)
            #expect(Set(blind.unreadable.map(\.kind)) == [
                "signal-session:123456789012345_1:0", "signal-identity:123456789012345_1:0", "signal-sender-key:120363@g.us|543210987654321_1:2",
            ])
        }
    }

    @Test func aLogoutWipesTheSignalStateButKeepsTheMessages() async throws {
        try await withDevice { device in
            var changes = ProtocolChanges()
            changes.sessions = [Self.ann: [1]]
            changes.identities = [Self.ann: [UInt8](repeating: 1, count: 32)]
            changes.senderKeys = [Self.group: [2]]
            changes.consumedPreKeys = [4]
            changes.lidMappings = [.init(phoneNumber: "1", lid: "2")]
            changes.identityChanges = [.init(address: Self.ann, previousFingerprint: "aa", newFingerprint: nil)]
            changes.reservesRetryPreKey = true
            changes.message = Self.row("KEEP")
            _ = try await device.protocolStore.commit(changes)
            try await device.store.wipeCredentials(device.lease)
            for table in ["signal_sessions", "signal_identities", "signal_sender_keys", "signal_prekeys_used", "lid_mappings",
                          "signal_identity_changes", "signal_retry_prekeys"] {
                #expect(try await device.count(table) == 0, "\(table)")
            }
            #expect(try await device.count("messages") == 1)
        }
    }
}
