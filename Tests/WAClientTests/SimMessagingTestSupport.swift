import Foundation
import Signal
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// A linked device's receiving side, as the gateway's receive path does it: WAWire reads the stanza, the
/// Signal module decrypts it with the keys of the device's credentials (identity, signed prekey, one-time
/// prekeys derived from the seed), and WAWire builds the answers.
struct ReceivingDevice {
    let credentials: DeviceCredentials
    let own: OwnAccount
    var sessions: [SignalAddress: SessionRecord] = [:]
    var senderKeys: [SenderKeyName: SenderKeyRecord] = [:]
    /// One-time prekeys used so far, in order: each may be used once.
    var consumedPreKeys: [UInt32] = []
    var random = SeededRandom(seed: 5)

    /// What one stanza held.
    struct Received {
        let message: IncomingMessage
        /// The `<enc>` types in decryption order.
        let types: [EncryptionType]
        /// The decoded plaintext of every `<enc>`.
        let contents: [MessageContent]

        /// The text the stanza carried, from whichever part carried it.
        var text: String? { contents.lazy.compactMap(\.text).first }
    }

    /// The device of `credentials`, logged in and told its LID by `<success lid>`.
    init(credentials: DeviceCredentials, lid: JID?) throws {
        self.credentials = credentials
        let jid = try #require(credentials.account.flatMap { JID(parsing: $0.jid) })
        own = OwnAccount(phoneNumber: jid, lid: lid)
    }

    var local: LocalIdentity {
        LocalIdentity(keyPair: try! Curve25519KeyPair(privateKey: credentials.identityKey), registrationID: credentials.registrationID)
    }

    /// Decrypts every `<enc>` of a `<message>` in the order the client must (pairwise first), installing
    /// the SKDM a pairwise part carries before the `skmsg`.
    mutating func receive(_ node: Node) throws -> Received {
        let message = try IncomingMessage(node, own: own)
        guard case .decrypt(let parts) = message.handling else {
            throw SignalError(.invalidMessage)
        }
        let address = SignalAddress(message.decryptionAddress(storedLID: nil))
        var contents: [MessageContent] = []
        for part in parts {
            let plaintext: [UInt8]
            switch part.type {
            case .preKeyMessage:
                let signedPreKey = try Curve25519KeyPair(privateKey: credentials.signedPreKey)
                let consumed = consumedPreKeys
                let seed = credentials.preKeySeed
                let decryption = try SessionCipher.decrypt(
                    try PreKeyWhisperMessage(parsing: part.ciphertext), record: sessions[address] ?? SessionRecord(), local: local,
                    signedPreKey: { [credentials] id in id == credentials.signedPreKeyID ? signedPreKey : nil },
                    oneTimePreKey: { id in consumed.contains(id) ? nil : try? OneTimePreKeys.keyPair(seed: seed, id: id) },
                    using: &random
                )
                sessions[address] = decryption.record
                if let id = decryption.consumedOneTimePreKeyID {
                    consumedPreKeys.append(id)
                }
                plaintext = decryption.plaintext
            case .message:
                let decryption = try SessionCipher.decrypt(
                    try WhisperMessage(parsing: part.ciphertext), record: sessions[address] ?? SessionRecord(), using: &random
                )
                sessions[address] = decryption.record
                plaintext = decryption.plaintext
            default:
                let name = SenderKeyName(groupID: message.source.chat.description, sender: address)
                let decryption = try GroupCipher.decrypt(try SenderKeyMessage(parsing: part.ciphertext), record: senderKeys[name] ?? SenderKeyRecord())
                senderKeys[name] = decryption.record
                plaintext = decryption.plaintext
            }
            let content = try MessageContent(decoding: try MessagePadding.unpad(plaintext))
            if let distribution = content.senderKeyDistribution {
                let name = SenderKeyName(groupID: distribution.groupID, sender: address)
                senderKeys[name] = GroupCipher.process(
                    try SenderKeyDistributionMessage(parsing: distribution.message), record: senderKeys[name] ?? SenderKeyRecord()
                )
            }
            contents.append(content)
        }
        return Received(message: message, types: parts.map(\.type), contents: contents)
    }

    /// Our bundle for a retry receipt's `<keys>`, with one-time prekey `preKeyID`.
    func retryBundle(preKeyID: UInt32) throws -> KeyBundle {
        KeyBundle(
            registrationID: credentials.registrationID,
            identityKey: try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey,
            signedPreKey: KeyBundle.SignedPreKey(
                id: credentials.signedPreKeyID, publicKey: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey,
                signature: credentials.signedPreKeySignature
            ),
            preKey: KeyBundle.PreKey(id: preKeyID, publicKey: try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: preKeyID).publicKey),
            deviceIdentity: [1, 2, 3]
        )
    }
}

extension ScriptedClient {
    /// Comes online as a real client does: the count query, an upload of `preKeys` one-time prekeys
    /// (ids 1…n, derived from the credentials' seed) with the signed prekey, then passive, which makes
    /// the simulator replay the queue.
    mutating func comeOnline(preKeys: Int) throws {
        try send(Node("iq", ["to": .server, "id": "online-count", "type": "get", "xmlns": "encrypt"], [Node("count")]))
        if preKeys > 0 {
            try send(preKeyUpload(ids: 1...UInt32(preKeys), id: "online-upload"))
        }
        try send(Node("iq", ["to": .server, "id": "online-passive", "type": "set", "xmlns": "passive"], [Node("active")]))
    }

    /// The prekey upload IQ for `ids`, as WAClient writes it.
    func preKeyUpload(ids: ClosedRange<UInt32>, id: String) throws -> Node {
        Node("iq", ["to": .server, "id": .string(id), "type": "set", "xmlns": "encrypt"], [
            Node("registration", bytes: ClientSessionMachine.bigEndian(credentials.registrationID, count: 4)),
            Node("type", bytes: [5]),
            Node("identity", bytes: identity.publicKey),
            Node("list", try ids.map { keyID in
                Node("key", [
                    Node("id", bytes: ClientSessionMachine.bigEndian(keyID, count: 3)),
                    Node("value", bytes: try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: keyID).publicKey),
                ])
            }),
            Node("skey", [
                Node("id", bytes: ClientSessionMachine.bigEndian(credentials.signedPreKeyID, count: 3)),
                Node("value", bytes: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey),
                Node("signature", bytes: credentials.signedPreKeySignature),
            ]),
        ])
    }

    /// The `<message>` stanzas received so far.
    var messages: [Node] {
        received.filter { $0.tag == "message" }
    }

    /// The device this client logged in as, with the LID `<success>` gave it.
    func receivingDevice() throws -> ReceivingDevice {
        try ReceivingDevice(credentials: credentials, lid: last("success")?.jidAttribute("lid"))
    }
}

/// A world with one account (15551234567), two contacts (15557000001, 15557000002) and a seeded
/// generator. Devices are linked directly, as a finished pairing leaves them: pairing through the
/// client machines costs a dozen signatures, which these tests do not need.
struct MessagingWorld {
    static let account = "15551234567"
    static let alice = "15557000001"
    static let bob = "15557000002"

    let world: SimWorld

    init(
        observer: @escaping @Sendable (SimWorldEvent) -> Void = { _ in },
        planMessageFault: @escaping @Sendable (JID) -> Bool = { _ in false },
        planSendFault: @escaping @Sendable (JID) -> SimSendFault? = { _ in nil }
    ) {
        world = SimWorld(
            observer: observer, planMessageFault: planMessageFault, planSendFault: planSendFault, random: SeededRandom(seed: 99)
        )
        var random = SeededRandom(seed: 4)
        world.addAccount(SimAccount.generate(phoneNumber: Self.account, using: &random))
        world.addContact(SimContact.generate(phoneNumber: Self.alice, pushName: "Alice", using: &random))
        world.addContact(SimContact.generate(phoneNumber: Self.bob, pushName: "Bob", using: &random))
    }

    /// Links a new device of the account (its registration's signed prekey known, no one-time prekeys
    /// uploaded) and returns its credentials.
    func link(seed: UInt64 = 31) throws -> DeviceCredentials {
        let account = try #require(world.account(phoneNumber: Self.account))
        let reservation = try #require(world.reserveDevice(phoneNumber: Self.account))
        var random = SeededRandom(seed: seed)
        var credentials = DeviceCredentials.generate(using: &random)
        let device = SimLinkedDevice(
            phoneNumber: Self.account, deviceID: reservation.deviceID, lidUser: account.lidUser,
            noisePublicKey: try Curve25519KeyPair(privateKey: credentials.noiseKey).publicKey,
            identityPublicKey: try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey,
            registrationID: credentials.registrationID, keyIndex: reservation.keyIndex, linkedAt: Conversation.start, os: "test",
            signedPreKey: SimSignedPreKey(
                id: credentials.signedPreKeyID, publicKey: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey,
                signature: credentials.signedPreKeySignature
            )
        )
        // The account's phone vouches for the device as in pairing, so its <device-identity> verifies.
        let issued = try ADVIssuedIdentity.issue(
            rawID: account.rawID, timestamp: 1_760_000_000, keyIndex: reservation.keyIndex, hosted: false,
            account: try #require(account.identity), companionIdentityPublicKey: device.identityPublicKey,
            advSecret: credentials.advSecret, using: &random
        )
        let verified = try ADVCompanion.verify(
            deviceIdentity: issued.deviceIdentity, advSecret: credentials.advSecret,
            identity: try Curve25519KeyPair(privateKey: credentials.identityKey), using: &random
        )
        credentials.account = PairedAccount(
            jid: device.jid.description, lid: device.lid.description, platform: account.platform, businessName: nil,
            signedIdentity: verified.account, keyIndex: reservation.keyIndex
        )
        world.link(device, connection: SimConnectionID(0))
        return credentials
    }

    /// A newly linked device, logged in by a scripted client (not online yet).
    func linkedClient(seed: UInt64 = 44) throws -> ScriptedClient {
        try login(try link(seed: seed), seed: seed)
    }

    /// A login of `credentials`.
    func login(_ credentials: DeviceCredentials, seed: UInt64 = 45) throws -> ScriptedClient {
        try ScriptedClient(world: world, credentials: credentials, seed: seed)
    }

    /// Another login of the same device.
    func reconnect(_ client: ScriptedClient, seed: UInt64 = 45) throws -> ScriptedClient {
        try login(client.credentials, seed: seed)
    }
}
