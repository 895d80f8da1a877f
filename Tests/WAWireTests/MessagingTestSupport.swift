import Foundation
import WAWire

/// Accounts, devices and stanzas shaped like messaging.md's examples, shared by the messaging suites.
enum MessagingFixture {
    static let ownPN = JID(user: "15550001111", server: .whatsApp)
    static let ownLID = JID(user: "900000000000001", server: .lid)
    static let own = OwnAccount(phoneNumber: ownPN.withDevice(7), lid: ownLID.withDevice(7))

    static let peerPN = JID(user: "15551234567", server: .whatsApp)
    static let peerLID = JID(user: "123456789012345", server: .lid)
    static let group = JID(user: "120363012345678901", server: .group)

    static let ciphertext: [UInt8] = Array(0x30...0x4F)

    static func enc(_ type: String, _ bytes: [UInt8] = ciphertext, count: String? = nil) -> Node {
        var attributes: Node.Attributes = ["v": "2", "type": .string(type)]
        if let count {
            attributes["count"] = .string(count)
        }
        return Node("enc", attributes, bytes: bytes)
    }

    /// A DM from the peer's LID device 3, with its phone number as `sender_pn`.
    static func directMessage(_ children: [Node] = [enc("pkmsg")], id: String = "3EB0AABBCCDDEEFF001122") -> Node {
        Node("message", [
            "from": .jid(peerLID.withDevice(3)), "type": "text", "id": .string(id), "t": "1760000000",
            "notify": "Ann", "addressing_mode": "lid", "sender_pn": .jid(peerPN),
        ], children)
    }

    /// A group message from the peer's LID device 3: the SKDM carrier, then the skmsg.
    static func groupMessage(_ children: [Node] = [enc("skmsg"), enc("msg")]) -> Node {
        Node("message", [
            "from": .jid(group), "participant": .jid(peerLID.withDevice(3)), "type": "text", "id": "ABCD0123",
            "t": "1760000001", "addressing_mode": "lid", "participant_pn": .jid(peerPN.withDevice(3)),
        ], children)
    }

    /// What the wire makes of `node`: encoded with whatsmeow's rules and decoded again.
    static func wire(_ node: Node) throws -> Node {
        try NodeDecoder().decode(frame: NodeEncoder.encode(node))
    }

    static func bundle(preKey: Bool = true, deviceIdentity: [UInt8]? = [0xD1, 0xD2]) -> KeyBundle {
        KeyBundle(
            registrationID: 0x0102_0304,
            identityKey: [UInt8](repeating: 0x11, count: 32),
            signedPreKey: .init(id: 0x00_0001, publicKey: [UInt8](repeating: 0x22, count: 32), signature: [UInt8](repeating: 0x33, count: 64)),
            preKey: preKey ? .init(id: 0x12_3456, publicKey: [UInt8](repeating: 0x44, count: 32)) : nil,
            deviceIdentity: deviceIdentity
        )
    }

    /// The `<user>` of a prekey answer holding `bundle`, keys on the user node or in `<keys>`.
    static func bundleUser(_ jid: JID, _ bundle: KeyBundle, wrapped: Bool = false) -> Node {
        var keys = [
            Node("type", bytes: [5]),
            Node("identity", bytes: bundle.identityKey),
            Node("skey", [
                Node("id", bytes: bigEndian(bundle.signedPreKey.id, 3)),
                Node("value", bytes: bundle.signedPreKey.publicKey),
                Node("signature", bytes: bundle.signedPreKey.signature),
            ]),
        ]
        if let preKey = bundle.preKey {
            keys.append(Node("key", [Node("id", bytes: bigEndian(preKey.id, 3)), Node("value", bytes: preKey.publicKey)]))
        }
        let registration = Node("registration", bytes: bigEndian(bundle.registrationID, 4))
        return Node("user", ["jid": .jid(jid)], wrapped ? [registration, Node("keys", keys)] : [registration] + keys)
    }

    static func bigEndian(_ value: UInt32, _ count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func failure<T>(_ body: () throws(StanzaError) -> T) -> StanzaError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }
}

/// Replays a fixed list of 64-bit words, so a test can choose the exact random bytes.
struct ScriptedGenerator: RandomNumberGenerator {
    var words: [UInt64]

    mutating func next() -> UInt64 {
        words.isEmpty ? 0 : words.removeFirst()
    }
}
