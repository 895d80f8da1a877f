import Foundation
import Signal
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// A linked device's sending side, as a gateway's send path does it (messaging.md §6–§8): WAWire builds
/// the queries and the stanza, the Signal module encrypts with sessions set up from fetched bundles.
extension ReceivingDevice {
    /// The `<device-identity>` a `pkmsg` carries: the device's ADVSignedDeviceIdentity with the account key.
    var deviceIdentity: [UInt8] {
        credentials.account?.signedIdentity ?? []
    }

    /// Sets up a session with `device` from `bundle` (X3DH as initiator).
    mutating func startSession(with device: JID, bundle: KeyBundle) throws {
        let preKeyBundle = PreKeyBundle(
            registrationID: bundle.registrationID, identityKey: bundle.identityKey, signedPreKeyID: bundle.signedPreKey.id,
            signedPreKey: bundle.signedPreKey.publicKey, signedPreKeySignature: bundle.signedPreKey.signature,
            oneTimePreKey: bundle.preKey.map { PreKeyBundle.OneTimePreKey(id: $0.id, publicKey: $0.publicKey) }
        )
        let address = SignalAddress(device)
        sessions[address] = try SessionCipher.initiate(record: sessions[address] ?? SessionRecord(), bundle: preKeyBundle, local: local, using: &random)
    }

    /// Pads and encrypts `plaintext` for `device` on the session with it.
    mutating func encrypt(_ plaintext: [UInt8], for device: JID) throws -> MessageStanza.DeviceCiphertext {
        let address = SignalAddress(device)
        let encryption = try SessionCipher.encrypt(MessagePadding.pad(plaintext, using: &random), record: try #require(sessions[address]))
        sessions[address] = encryption.record
        return MessageStanza.DeviceCiphertext(device: device, type: EncryptionType(rawValue: encryption.type.rawValue), ciphertext: encryption.serialized)
    }
}

extension ScriptedClient {
    /// Sends `node` (an iq without id) with `id` and returns the simulator's answer to it.
    mutating func query(_ node: Node, id: String) throws -> Node {
        var node = node
        node.attributes["id"] = .string(id)
        try send(node)
        return try #require(received.last { $0.tag == "iq" && $0.attribute("id") == id })
    }

    /// The bundles of `devices`, fetched as a sender does (messaging.md §6.1).
    mutating func fetchBundles(_ devices: [JID], id: String = "fetch") throws -> [JID: KeyBundle] {
        let answer = try query(PreKeyFetch.query(for: devices), id: id)
        return try PreKeyFetch.parse(answer).compactMapValues { try? $0.get() }
    }

    /// The stanzas received after the first `count`.
    func stanzas(after count: Int) -> [Node] {
        Array(received.dropFirst(count))
    }

    /// Acks a receipt as a client does (messaging.md §3.2).
    mutating func ack(_ receipt: Node) throws {
        try send(StanzaEnvelope(receipt).ack())
    }
}
