import DevicePool
import Foundation
import Messaging
import PairgateTestSupport
import Signal
import Testing
import WAClient
import WAWire

/// X3DH happens once per pair of devices: the second message to a chat fetches no bundle, also when
/// the fan-out lists devices by phone number and the receive path keyed their sessions by LID
/// (messaging.md §1.3). Two linked devices of one account (7 and 5) write to Ann by her phone
/// number; each receives the other's DeviceSentMessage through its own receive pipeline and store,
/// as the server relays it (from the sender's phone-number device). `pairgate bench send` with
/// several devices per account showed the bug: the receive path moved the sibling's session to our
/// LID, the send path looked it up under the phone number, and set up a new session on every send.
@Suite("Repeat sends fetch no bundle")
struct RepeatSendTests {
    typealias F = SendFixture

    /// One of our linked devices: its keys, its store, its receive pipeline, its encryptor.
    struct Linked {
        let credentials: DeviceCredentials
        let store = MemoryProtocolStore()
        let pipeline: InboundPipeline
        let encryptor: OutboundEncryptor
        let jid: JID

        init(device: UInt16, seed: UInt64) {
            credentials = .pairedForTests(phoneNumber: F.ownPhoneNumber, lid: F.ownLID, device: device, seed: seed)
            let local = LocalDevice(credentials: credentials)!
            pipeline = InboundPipeline(store: store, device: local)
            encryptor = OutboundEncryptor(device: local)
            jid = JID(user: F.ownPhoneNumber, device: device, server: .whatsApp)
        }

        func bundle() throws -> KeyBundle {
            KeyBundle(
                registrationID: credentials.registrationID,
                identityKey: try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey,
                signedPreKey: KeyBundle.SignedPreKey(
                    id: credentials.signedPreKeyID,
                    publicKey: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey,
                    signature: credentials.signedPreKeySignature
                ),
                preKey: KeyBundle.PreKey(id: 1, publicKey: try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: 1).publicKey)
            )
        }

        /// DeviceSender's steps: load the targets' state (and the LID addresses its mappings name),
        /// fetch bundles for the devices without a session, encrypt, commit. Returns the devices a
        /// bundle was fetched for and the stanza.
        func send(_ text: String, id: String, fanOut: DirectFanOut, bundles: [JID: KeyBundle], using random: inout SeededRandom) async throws -> ([JID], Node) {
            let targets = encryptor.targets(of: fanOut)
            var state = try await store.load(encryptor.requirements(for: targets))
            let more = encryptor.requirements(for: targets, given: state)
            if !more.isEmpty {
                state.merge(try await store.load(more), answering: more)
            }
            let needing = encryptor.devicesNeedingBundles(targets, state: state)
            let encryption = try encryptor.encryptDirect(
                id: id, message: TestContact.text(text), fanOut: fanOut, state: state,
                bundles: bundles.filter { needing.contains($0.key) }, using: &random
            )
            _ = try await store.commit(encryption.changes)
            return (needing, encryption.stanza)
        }

        /// Receives `from`'s copy in `stanza` as the server relays it to another device of the account.
        func receiveRelayed(_ stanza: Node, from sender: JID, using random: inout SeededRandom) async throws -> InboundResult {
            let to = try #require(stanza.child("participants")?.children.first { $0.attributes["jid"] == .jid(jid) })
            let node = Node("message", [
                "from": .jid(sender), "id": stanza.attributes["id"] ?? "", "type": "text", "t": "1760000100",
                "recipient": stanza.attributes["to"] ?? "",
            ], [try #require(to.child("enc"))])
            return try await pipeline.receive(node, using: &random)
        }
    }

    static let ann = JID(user: F.annPhoneNumber, server: .whatsApp)
    static let ownPhone = JID(user: F.ownPhoneNumber, server: .whatsApp)

    static func encType(_ stanza: Node, for device: JID) throws -> String? {
        try stanza.onTheWire.child("participants")?.children.first { $0.attributes["jid"] == .jid(device) }?.child("enc")?.attribute("type")
    }

    @Test func ourOtherDevicesGetNoNewSessionOnLaterSendsToAPhoneNumberChat() async throws {
        let seven = Linked(device: 7, seed: 1), five = Linked(device: 5, seed: 31)
        let annPhone = SendFixture.Peer(phoneNumber: F.annPhoneNumber, lid: F.annLID, device: 0, seed: 21)
        let ownPhone = SendFixture.Peer(phoneNumber: F.ownPhoneNumber, lid: F.ownLID, device: 0, seed: 23)
        let bundles: [JID: KeyBundle] = [
            Self.ann: try annPhone.bundle(), Self.ownPhone: try ownPhone.bundle(), seven.jid: try seven.bundle(), five.jid: try five.bundle(),
        ]
        // Ann's LID is not known: the chat and our devices go by phone number, as usync listed them.
        let fanOut = DirectFanOut(chat: Self.ann, recipientDevices: [Self.ann], ownDevices: [Self.ownPhone, five.jid, seven.jid])
        var random = SeededRandom(seed: 12)

        // 1. Device 7 writes first: a new session with every device.
        let (first, m1) = try await seven.send("one", id: "3EB0000000000000000001", fanOut: fanOut, bundles: bundles, using: &random)
        #expect(Set(first) == [Self.ann, Self.ownPhone, five.jid])
        // 2. Device 5 reads its copy (a `pkmsg` from 7), then writes: it already has a session with 7.
        #expect(try await five.receiveRelayed(m1, from: seven.jid, using: &random).report.message?.text == "one")
        let (second, m2) = try await five.send("two", id: "3EB0000000000000000002", fanOut: fanOut, bundles: bundles, using: &random)
        #expect(Set(second) == [Self.ann, Self.ownPhone])
        #expect(try Self.encType(m2, for: seven.jid) == "msg")
        // 3. Device 7 reads 5's copy; its next message fetches nothing, and 5, who answered, gets a `msg`.
        #expect(try await seven.receiveRelayed(m2, from: five.jid, using: &random).report.message?.text == "two")
        let (third, m3) = try await seven.send("three", id: "3EB0000000000000000003", fanOut: fanOut, bundles: bundles, using: &random)
        #expect(third.isEmpty)
        #expect(try Self.encType(m3, for: five.jid) == "msg")
        #expect(try await five.receiveRelayed(m3, from: seven.jid, using: &random).report.message?.text == "three")
        // 4. And again, both ways: no bundle, no new session.
        let (fourth, m4) = try await five.send("four", id: "3EB0000000000000000004", fanOut: fanOut, bundles: bundles, using: &random)
        #expect(fourth.isEmpty)
        #expect(try Self.encType(m4, for: seven.jid) == "msg")
        #expect(try await seven.receiveRelayed(m4, from: five.jid, using: &random).report.message?.text == "four")
        // Ann's phone and ours never answered: Signal keeps sending them `pkmsg` on the first session,
        // which they read in order.
        #expect(try Self.encType(m4, for: Self.ann) == "pkmsg")
        // The sessions are stored once, under our LID.
        let stored = seven.store.snapshot.sessions.keys.map(\.description).sorted()
        #expect(stored == ["\(F.annPhoneNumber):0", "\(F.ownLID)_1:0", "\(F.ownLID)_1:5"])
    }

    @Test func aPhoneNumberDeviceWithAStoredLIDUsesTheLIDSessionAndMovesOneLeftUnderThePhoneNumber() async throws {
        let seven = Linked(device: 7, seed: 1)
        let annPhone = SendFixture.Peer(phoneNumber: F.annPhoneNumber, lid: F.annLID, device: 0, seed: 21)
        let annLIDPhone = JID(user: F.annLID, server: .lid)
        var random = SeededRandom(seed: 13)
        // A group in phone-number mode lists Ann by phone number; the store knows her LID.
        var mapping = ProtocolChanges()
        mapping.lidMappings = [ProtocolChanges.LIDPair(phoneNumber: F.annPhoneNumber, lid: F.annLID)]
        _ = try await seven.store.commit(mapping)
        let fanOut = DirectFanOut(chat: Self.ann, recipientDevices: [Self.ann], ownDevices: [seven.jid])
        // The first send still finds a session left under the phone number (written before the
        // mapping): it moves to the LID, and no bundle is fetched.
        let (_, m0) = try await seven.send("zero", id: "3EB0000000000000000010", fanOut: DirectFanOut(
            chat: Self.ann, recipientDevices: [Self.ann], ownDevices: []
        ), bundles: [Self.ann: try annPhone.bundle()], using: &random)
        _ = m0
        var move = ProtocolChanges()
        let underLID = try #require(seven.store.snapshot.sessions[SignalAddress(annLIDPhone)])
        move.deletedSessions = [SignalAddress(annLIDPhone)]
        move.sessions = [SignalAddress(Self.ann): underLID]
        _ = try await seven.store.commit(move)
        let (needing, _) = try await seven.send("one", id: "3EB0000000000000000011", fanOut: fanOut, bundles: [:], using: &random)
        #expect(needing.isEmpty)
        let sessions = seven.store.snapshot.sessions
        #expect(sessions[SignalAddress(Self.ann)] == nil)
        #expect(sessions[SignalAddress(annLIDPhone)] != nil)
    }
}
