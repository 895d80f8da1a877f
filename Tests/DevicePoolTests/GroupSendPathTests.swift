import DevicePool
import Foundation
import Messaging
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Signal
import Synchronization
import Testing
import WAClient
import WAWire

/// Group sends through the whole pool (messaging.md §9): the scripted server answers the group-info,
/// usync and prekey IQs; the members read the SKDM from their pairwise copy and then the `skmsg` with
/// the Signal module, as phones do.
@Suite("Group sends through the pool", .requiresDatabase, .serialized)
struct GroupSendPathTests {
    static let group = JID(user: "120363000000000001", server: .group)
    static let ownLID = JID(user: "900000000009999", server: .lid)

    /// A member's phone (device 0): its keys, the bundle the server hands out, and what it has read.
    struct Member: Sendable {
        let credentials: DeviceCredentials
        let lid: JID
        let phoneNumber: JID
        var session = SessionRecord()
        var senderKey = SenderKeyRecord()

        init(phoneNumber: String, lid: String, seed: UInt64) {
            credentials = DeviceCredentials.pairedForTests(phoneNumber: phoneNumber, lid: lid, device: 0, seed: seed)
            self.lid = JID(user: lid, server: .lid)
            self.phoneNumber = JID(user: phoneNumber, server: .whatsApp)
        }

        /// Reads its part of a group stanza: the SKDM from its pairwise copy when there is one (or a
        /// retry resend's only `<enc>`), then the `skmsg`. The text, from the skmsg or the resend.
        mutating func read(_ stanza: Node) throws -> String? {
            let pairwise = stanza.child("participants")?.children.first { $0.attributes["jid"] == .jid(lid) }?.child("enc")
                ?? stanza.children.first { $0.tag == "enc" && $0.attribute("type") != "skmsg" }
            var text: String?
            if let pairwise {
                let content = try MessageContent(decoding: try MessagePadding.unpad(try decrypt(pairwise)))
                if let distribution = content.senderKeyDistribution {
                    #expect(distribution.groupID == GroupSendPathTests.group.description)
                    senderKey = GroupCipher.process(try SenderKeyDistributionMessage(parsing: distribution.message), record: senderKey)
                }
                text = content.text
            }
            if let skmsg = stanza.children.first(where: { $0.tag == "enc" && $0.attribute("type") == "skmsg" }) {
                let decryption = try GroupCipher.decrypt(try SenderKeyMessage(parsing: try #require(skmsg.bytes)), record: senderKey)
                senderKey = decryption.record
                text = try MessageContent(decoding: try MessagePadding.unpad(decryption.plaintext)).text
            }
            return text
        }

        private mutating func decrypt(_ enc: Node) throws -> [UInt8] {
            var random = SeededRandom(seed: 3)
            let bytes = try #require(enc.bytes)
            let decryption: SessionCipher.Decryption
            if enc.attribute("type") == "pkmsg" {
                let credentials = credentials
                let local = LocalIdentity(keyPair: try Curve25519KeyPair(privateKey: credentials.identityKey), registrationID: credentials.registrationID)
                let signed = try Curve25519KeyPair(privateKey: credentials.signedPreKey)
                decryption = try SessionCipher.decrypt(
                    try PreKeyWhisperMessage(parsing: bytes), record: session, local: local, signedPreKey: { _ in signed },
                    oneTimePreKey: { try? OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: $0) }, using: &random
                )
            } else {
                decryption = try SessionCipher.decrypt(try WhisperMessage(parsing: bytes), record: session, using: &random)
            }
            session = decryption.record
            return decryption.plaintext
        }
    }

    static let ann = Member(phoneNumber: "15551234567", lid: "100000000000001", seed: 51)
    static let bob = Member(phoneNumber: "15557654321", lid: "100000000000002", seed: 52)
    static let ownPhone = Member(phoneNumber: "15550009999", lid: "900000000009999", seed: 53)

    /// The scripted server: the group (LID-addressed) holds us, Ann and Bob while `members` says so;
    /// Ann and Bob have their phones, we our phone and this device (7). Another group is 404, a third 403.
    final class Server: Sendable {
        let members = Mutex<[Member]>([GroupSendPathTests.ownPhone, GroupSendPathTests.ann, GroupSendPathTests.bob])

        func answer(_ iq: Node) -> Node? {
            let everyone = [GroupSendPathTests.ownPhone, GroupSendPathTests.ann, GroupSendPathTests.bob]
            switch iq.attribute("xmlns") {
            case "w:g2":
                guard case .jid(let to)? = iq.attributes["to"] else { return nil }
                guard to == GroupSendPathTests.group else {
                    let code = to.user.hasSuffix("404") ? "404" : "403"
                    return Node("iq", ["type": "error", "from": .jid(to)], [Node("error", ["code": .string(code)])])
                }
                let participants = members.withLock { $0 }.map {
                    Node("participant", ["jid": .jid($0.lid), "phone_number": .jid($0.phoneNumber)])
                }
                return Node("iq", ["type": "result", "from": .jid(to)], [
                    Node("group", ["id": .string(to.user), "addressing_mode": "lid"], participants),
                ])
            case "usync":
                let users = iq.child("usync")?.child("list")?.children.compactMap { user -> Node? in
                    guard case .jid(let jid)? = user.attributes["jid"] else { return nil }
                    let ids: [String] = jid == GroupSendPathTests.ownLID ? ["0", "7"] : everyone.contains { $0.lid == jid } ? ["0"] : []
                    return Node("user", ["jid": .jid(jid)], [
                        Node("devices", [Node("device-list", ids.map { Node("device", ["id": .string($0)]) })]),
                    ])
                } ?? []
                return Node("iq", ["type": "result"], [Node("usync", [Node("list", users)])])
            case "encrypt":
                let users = iq.child("key")?.children.compactMap { user -> Node? in
                    guard case .jid(let jid)? = user.attributes["jid"], let member = everyone.first(where: { $0.lid == jid }) else { return nil }
                    return try? SendPathTests.bundle(member.credentials, jid: jid)
                } ?? []
                return Node("iq", ["type": "result"], [Node("list", users)])
            default:
                return nil
            }
        }
    }

    func messages(_ login: ScriptedSession) -> [Node] {
        login.sent.filter { $0.tag == "message" }
    }

    func holders(_ pool: PostgresPool, _ device: UUID) async throws -> [String] {
        try await pool.query("SELECT holder FROM sender_key_holders WHERE device_id = $1 ORDER BY holder", [device]).map { try $0.decode(0) }
    }

    @Test func theSenderKeyGoesToEveryMemberDeviceOnceThenOnlyTheSkmsgAndIsReplacedWhenAMemberLeaves() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }))
            try await h.running {
                let (device, login) = try await ReceivePathTests().onlineDevice(h)
                let server = Server()
                login.answerQueries { server.answer($0) }
                var (ann, bob, phone) = (Self.ann, Self.bob, Self.ownPhone)
                let send = SendPathTests()
                let first = try await send.queue(h, device, to: Self.group.description, text: "hello group")
                h.supervisor.outboxReady(deviceID: device)
                try await eventually("the first stanza") { !messages(login).isEmpty }

                // The member list, one usync for the three members, one prekey fetch for the three
                // devices that get the SKDM (this device is left out).
                #expect(login.queries.map { $0.attribute("xmlns") } == ["w:g2", "usync", "encrypt"])
                #expect(login.queries.first?.attributes["to"] == .jid(Self.group))
                let stanza = try #require(messages(login).first)
                #expect(stanza.attributes["id"] == .string(first))
                #expect(stanza.attributes["to"] == .jid(Self.group))
                #expect(stanza.attribute("addressing_mode") == "lid")
                #expect(stanza.attribute("phash") == DeviceListHash.v2([
                    Self.ownLID, Self.ownLID.withDevice(7), Self.ann.lid, Self.bob.lid,
                ]))
                #expect(Set(stanza.child("participants")?.children.map { $0.attributes["jid"] } ?? [])
                    == [.jid(Self.ownLID), .jid(Self.ann.lid), .jid(Self.bob.lid)])
                #expect(stanza.child("participants")?.children.allSatisfy { $0.child("enc")?.attribute("type") == "pkmsg" } == true)
                #expect(stanza.child("device-identity") != nil)
                #expect(stanza.children.last?.attribute("type") == "skmsg")
                #expect(try ann.read(stanza) == "hello group")
                #expect(try bob.read(stanza) == "hello group")
                #expect(try phone.read(stanza) == "hello group")
                // Our sender key (under our LID) and the sessions were committed before the stanza
                // left; nobody holds the key until the server accepts it.
                let keys: [String] = try await pool.query(
                    "SELECT group_jid || '|' || sender_name || ':' || sender_device FROM signal_sender_keys WHERE device_id = $1", [device]
                ).map { try $0.decode(0) }
                #expect(keys == ["\(Self.group)|900000000009999_1:7"])
                #expect(try await send.row(h, first) == ("queued", 1, nil))
                #expect(try await holders(pool, device).isEmpty)

                login.emit(.stanza(Node("ack", ["class": "message", "id": .string(first), "from": .jid(Self.group), "t": "1760000500"])))
                try await eventually("sent") { try await send.row(h, first).status == "sent" }
                #expect(try await holders(pool, device) == [Self.ownLID, Self.ann.lid, Self.bob.lid].map(\.description).sorted())

                // Everyone holds the key: the next message is the skmsg alone, with no IQ at all.
                let second = try await send.queue(h, device, to: Self.group.description, text: "second")
                h.supervisor.outboxReady(deviceID: device)
                try await eventually("the second stanza") { messages(login).count == 2 }
                let next = try #require(messages(login).last)
                #expect(next.attributes["id"] == .string(second))
                #expect(next.child("participants") == nil && next.child("device-identity") == nil)
                #expect(login.queries.count == 3)
                #expect(try ann.read(next) == "second")
                #expect(try bob.read(next) == "second")
                login.emit(.stanza(Node("ack", ["class": "message", "id": .string(second), "from": .jid(Self.group), "t": "1760000501"])))
                try await eventually("second sent") { try await send.row(h, second).status == "sent" }

                // Members' receipts name the group and the member: the first delivery receipt makes
                // the message delivered, the first read receipt read.
                login.emit(.stanza(Node("receipt", [
                    "from": .jid(Self.group), "participant": .jid(Self.ann.lid), "id": .string(first), "t": "1760000600",
                ])))
                try await eventually("delivered") { try await send.row(h, first).status == "delivered" }
                login.emit(.stanza(Node("receipt", [
                    "from": .jid(Self.group), "participant": .jid(Self.bob.lid), "id": .string(first), "t": "1760000700", "type": "read",
                ])))
                try await eventually("read") { try await send.row(h, first).status == "read" }

                // Ann lost her session and asks again: the message goes to her alone, pairwise, with
                // our current sender key attached.
                let keys2 = try SendPathTests.bundle(Self.ann.credentials, jid: Self.ann.lid, preKeyID: 2)
                login.emit(.stanza(Node("receipt", [
                    "from": .jid(Self.group), "participant": .jid(Self.ann.lid), "id": .string(second), "t": "1760000800", "type": "retry",
                ], [
                    Node("retry", ["count": "1", "id": .string(second), "t": "1760000501", "v": "1"]),
                    try #require(keys2.child("registration")),
                    Node("keys", keys2.children.filter { $0.tag != "registration" }),
                ])))
                try await eventually("the resend") { messages(login).count == 3 }
                let resend = try #require(messages(login).last)
                #expect(resend.attributes["to"] == .jid(Self.group))
                #expect(resend.attributes["participant"] == .jid(Self.ann.lid))
                #expect(resend.child("participants") == nil && resend.children.filter { $0.tag == "enc" }.count == 1)
                ann.session = SessionRecord()
                #expect(try ann.read(resend) == "second")

                // Bob leaves: the group notification drops the cached member list; the next send asks
                // for it again, finds a holder of our key gone and makes a new key, sent to the
                // remaining devices only. Bob cannot read what follows.
                server.members.withLock { $0.removeAll { $0.lid == Self.bob.lid } }
                login.emit(.stanza(Node("notification", ["from": .jid(Self.group), "type": "w:gp2", "id": "n1", "t": "1760000900"], [
                    Node("remove", [Node("participant", ["jid": .jid(Self.bob.lid)])]),
                ])))
                try await eventually("the notification was acked") { login.sent.contains { $0.tag == "ack" && $0.attribute("id") == "n1" } }
                let third = try await send.queue(h, device, to: Self.group.description, text: "without Bob")
                h.supervisor.outboxReady(deviceID: device)
                try await eventually("the third stanza") { messages(login).count == 4 }
                let after = try #require(messages(login).last)
                #expect(after.attributes["id"] == .string(third))
                // Only the member list is asked again: the device lists and sessions are at hand.
                #expect(login.queries.map { $0.attribute("xmlns") } == ["w:g2", "usync", "encrypt", "w:g2"])
                #expect(Set(after.child("participants")?.children.map { $0.attributes["jid"] } ?? []) == [.jid(Self.ownLID), .jid(Self.ann.lid)])
                #expect(try ann.read(after) == "without Bob")
                #expect(try phone.read(after) == "without Bob")
                #expect(throws: SignalError.self) { try bob.read(after) }
                // The old holders are gone with the old key.
                #expect(try await holders(pool, device).isEmpty)
                login.emit(.stanza(Node("ack", ["class": "message", "id": .string(third), "from": .jid(Self.group), "t": "1760001000"])))
                try await eventually("third sent") { try await holders(pool, device) == [Self.ownLID, Self.ann.lid].map(\.description).sorted() }
            }
        }
    }

    /// The sender key's iteration of a `skmsg`.
    static func iteration(_ stanza: Node) throws -> UInt32 {
        let skmsg = try #require(stanza.children.first { $0.tag == "enc" && $0.attribute("type") == "skmsg" }?.bytes)
        return try SenderKeyMessage(parsing: skmsg).iteration
    }

    @Test func aPoolThatDiesBeforeTheAckLeavesTheNextOwnerToResendWithTheNextIterationAndTheKeyAgain() async throws {
        try await withPoolDatabase { pool, tenant in
            let a = PoolHarness.make(pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }))
            let server = Server()
            var ann = Self.ann
            let send = SendPathTests()
            let (device, waID, first) = try await withThrowingTaskGroup(of: Void.self, returning: (UUID, String, Node).self) { tasks in
                tasks.addTask { try await a.supervisor.run() }
                let (device, login) = try await ReceivePathTests().onlineDevice(a)
                login.answerQueries { server.answer($0) }
                let waID = try await send.queue(a, device, to: Self.group.description, text: "once")
                a.supervisor.outboxReady(deviceID: device)
                try await eventually("the stanza") { !messages(login).isEmpty }
                // The pool dies without a word after writing the stanza: no ack was seen.
                tasks.cancelAll()
                return (device, waID, try #require(messages(login).first))
            }
            #expect(try ann.read(first) == "once")
            #expect(try Self.iteration(first) == 0)
            try await pool.query("UPDATE devices SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [device])

            // The next owner sends the same message again: the same id, the sender key one iteration
            // on (committed before the first stanza left, so no message key is used twice), and the
            // SKDM again, as no ack made anyone a holder.
            let b = PoolHarness.make(pool: pool, tenant: tenant, instance: "b")
            try await b.running {
                var sessions = b.upstream.sessions.makeAsyncIterator()
                let login = try #require(await sessions.next())
                // The first pool may have died before it stored the LID in the credentials: the
                // group's member pairs name it, so the key and our own device are recognised anyway.
                login.answerQueries { server.answer($0) }
                login.emit(.online(OnlineInfo(jid: ReceivePathTests.jid, lid: ReceivePathTests.lid, serverTimeOffset: .zero)))
                try await eventually("the resend") { !messages(login).isEmpty }
                let again = try #require(messages(login).first)
                #expect(again.attributes["id"] == .string(waID))
                #expect(try Self.iteration(again) == 1)
                #expect(again.child("participants")?.children.count == 3)
                // Cached lists and stored sessions: no IQ this time.
                #expect(login.queries.isEmpty)
                #expect(try ann.read(again) == "once")
                #expect(try await send.row(b, waID) == ("queued", 2, nil))
                login.emit(.stanza(Node("ack", ["class": "message", "id": .string(waID), "from": .jid(Self.group), "t": "1760000500"])))
                try await eventually("sent") { try await send.row(b, waID).status == "sent" }
            }
        }
    }

    @Test func aGroupThatDoesNotExistOrThatWeAreNotInFailsItsMessageAndTheQueueGoesOn() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }))
            try await h.running {
                let (device, login) = try await ReceivePathTests().onlineDevice(h)
                let server = Server()
                login.answerQueries { server.answer($0) }
                let send = SendPathTests()
                let missing = try await send.queue(h, device, to: "120363000000000404@g.us", text: "anyone?")
                let foreign = try await send.queue(h, device, to: "120363000000000403@g.us", text: "let me in")
                let ours = try await send.queue(h, device, to: Self.group.description, text: "hi all")
                h.supervisor.outboxReady(deviceID: device)
                try await eventually("the group's stanza") { !messages(login).isEmpty }
                #expect(try await send.row(h, missing) == ("failed", 0, "group_not_found"))
                #expect(try await send.row(h, foreign) == ("failed", 0, "not_group_member"))
                #expect(messages(login).map { $0.attributes["id"] } == [.string(ours)])
            }
        }
    }
}
