import Foundation
import Signal
import SwiftProtobuf
import WAClient
import WAWire

/// A contact's phone writing to one linked device for `pairgate bench inbound`: X3DH from the
/// device's published keys, then the Double Ratchet and WhatsApp's padding, building the
/// `<message>` stanzas the server would deliver (LID-addressed, as since 2025).
struct BenchContact {
    let lid: JID
    let phoneNumber: JID
    private var session: SessionRecord
    private var generator: SeededRandom

    /// Contact `index`, with a session to the device of `credentials` from its one-time prekey `preKeyID`.
    init(index: Int, credentials: DeviceCredentials, preKeyID: UInt32, seed: UInt64) throws {
        lid = JID(user: String(700_000_000_000_000 + index), server: .lid)
        phoneNumber = JID(user: String(15_559_000_000 + index), server: .whatsApp)
        generator = SeededRandom(seed: seed)
        let identity = LocalIdentity(keyPair: Curve25519KeyPair.generate(using: &generator), registrationID: UInt32(index + 1))
        let bundle = PreKeyBundle(
            registrationID: credentials.registrationID,
            identityKey: try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey,
            signedPreKeyID: credentials.signedPreKeyID,
            signedPreKey: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey,
            signedPreKeySignature: credentials.signedPreKeySignature,
            oneTimePreKey: PreKeyBundle.OneTimePreKey(
                id: preKeyID, publicKey: try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: preKeyID).publicKey
            )
        )
        session = try SessionCipher.initiate(record: SessionRecord(), bundle: bundle, local: identity, using: &generator)
    }

    /// `text` as a 1:1 message with WhatsApp id `id`, encrypted on the session.
    mutating func message(_ text: String, id: String, t: Int64) throws -> Node {
        var content = WAMessage()
        content.conversation = text
        let padded = MessagePadding.pad(try content.serializedBytes(), using: &generator)
        let encryption = try SessionCipher.encrypt(padded, record: session)
        session = encryption.record
        let enc = Node("enc", ["v": "2", "type": .string(encryption.type == .pkmsg ? "pkmsg" : "msg")], bytes: encryption.serialized)
        return Node("message", [
            "from": .jid(lid), "addressing_mode": "lid", "sender_pn": .jid(phoneNumber), "id": .string(id), "type": "text",
            "t": .string(String(t)), "notify": "Bench",
        ], [enc])
    }
}
