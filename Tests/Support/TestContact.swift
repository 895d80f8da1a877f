import Foundation
import Signal
import SwiftProtobuf
import WAClient
import WAWire

/// A WhatsApp user's device made of real Signal keys, writing to one linked device as a phone does:
/// X3DH from the linked device's published keys (its signed prekey and a one-time prekey derived from
/// its credentials' seed), the Double Ratchet, sender keys for groups, WhatsApp's padding. It builds
/// the `<message>` stanzas the server would deliver. A value: copy it to replay a state.
public struct TestContact: Sendable {
    /// The account's phone-number and LID users; `device` is the sending device (0 = the phone).
    public let phoneNumber: JID
    public let lid: JID
    public let device: UInt16
    public private(set) var identity: LocalIdentity
    /// Our session with the linked device.
    public private(set) var session = SessionRecord()
    /// Our sender key per group JID.
    public private(set) var senderKeys: [String: SenderKeyRecord] = [:]
    private var generator: SeededRandom

    public init(phoneNumber: String, lid: String, device: UInt16 = 0, seed: UInt64) {
        self.phoneNumber = JID(user: phoneNumber, server: .whatsApp)
        self.lid = JID(user: lid, server: .lid)
        self.device = device
        generator = SeededRandom(seed: seed)
        identity = LocalIdentity(keyPair: Curve25519KeyPair.generate(using: &generator), registrationID: UInt32(truncatingIfNeeded: seed) | 1)
    }

    /// The sending device's JIDs.
    public var lidDevice: JID { lid.withDevice(device) }
    public var phoneNumberDevice: JID { phoneNumber.withDevice(device) }

    /// A new identity key, as after a reinstall: the old session is gone.
    public mutating func reinstall() {
        identity = LocalIdentity(keyPair: Curve25519KeyPair.generate(using: &generator), registrationID: identity.registrationID)
        session = SessionRecord()
        senderKeys = [:]
    }

    /// X3DH as the initiator with the linked device of `credentials`; `oneTimePreKeyID` nil makes a
    /// session from the signed prekey alone.
    public mutating func startSession(with credentials: DeviceCredentials, oneTimePreKeyID: UInt32? = 1) throws {
        let identityKey = try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey
        let signedPreKey = try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey
        let oneTime = try oneTimePreKeyID.map { id in
            PreKeyBundle.OneTimePreKey(id: id, publicKey: try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: id).publicKey)
        }
        let bundle = PreKeyBundle(
            registrationID: credentials.registrationID, identityKey: identityKey, signedPreKeyID: credentials.signedPreKeyID,
            signedPreKey: signedPreKey, signedPreKeySignature: credentials.signedPreKeySignature, oneTimePreKey: oneTime
        )
        session = try SessionCipher.initiate(record: SessionRecord(), bundle: bundle, local: identity, using: &generator)
    }

    /// `message` padded and encrypted on the pairwise session: `<enc v="2" type="pkmsg|msg">`.
    public mutating func encrypt(_ message: WAMessage, count: Int? = nil) throws -> Node {
        try encrypt(plaintext: MessagePadding.pad(try message.serializedBytes(), using: &generator), count: count)
    }

    /// Any plaintext, taken as already padded (broken padding, bytes that are no protobuf).
    public mutating func encrypt(plaintext: [UInt8], count: Int? = nil) throws -> Node {
        let encryption = try SessionCipher.encrypt(plaintext, record: session)
        session = encryption.record
        return Self.enc(encryption.type == .pkmsg ? "pkmsg" : "msg", encryption.serialized, count: count)
    }

    /// Reads a `msg` the linked device sent (encrypted with its stored session): from then on our
    /// messages are `msg`, not `pkmsg`, as a phone's are once the other side answered.
    public mutating func read(_ serialized: [UInt8]) throws -> [UInt8] {
        let decryption = try SessionCipher.decrypt(try WhisperMessage(parsing: serialized), record: session, using: &generator)
        session = decryption.record
        return decryption.plaintext
    }

    /// Our sender key's distribution for `group`, wrapped as WhatsApp sends it (`Message` field 2).
    public mutating func distribution(for group: JID) throws -> WAMessage {
        let result = try GroupCipher.distributionMessage(record: senderKeys[group.description] ?? SenderKeyRecord(), using: &generator)
        senderKeys[group.description] = result.record
        var message = WAMessage()
        message.senderKeyDistributionMessage.groupID = group.description
        message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(result.message.serialized)
        return message
    }

    /// `message` padded and encrypted with our sender key for `group`: `<enc v="2" type="skmsg">`.
    public mutating func groupEncrypt(_ message: WAMessage, group: JID) throws -> Node {
        let padded = MessagePadding.pad(try message.serializedBytes(), using: &generator)
        let result = try GroupCipher.encrypt(padded, record: senderKeys[group.description] ?? SenderKeyRecord(), using: &generator)
        senderKeys[group.description] = result.record
        return Self.enc("skmsg", result.serialized)
    }

    /// A DM as the server delivers it: LID-addressed with `sender_pn` (the usual form since 2025), or
    /// phone-number-addressed with or without `sender_lid`.
    public func direct(_ encs: [Node], id: String, t: Int64 = 1_760_000_000, addressing: Addressing = .lid) -> Node {
        var attributes: Node.Attributes = ["id": .string(id), "type": "text", "t": .string(String(t)), "notify": "Ann"]
        switch addressing {
        case .lid:
            attributes["from"] = .jid(lidDevice)
            attributes["addressing_mode"] = "lid"
            attributes["sender_pn"] = .jid(phoneNumber)
        case .phoneNumber(let withLID):
            attributes["from"] = .jid(phoneNumberDevice)
            attributes["addressing_mode"] = "pn"
            if withLID {
                attributes["sender_lid"] = .jid(lid)
            }
        }
        return Node("message", attributes, encs)
    }

    /// A group message from this device (LID-addressed, `participant_pn` given).
    public func group(_ group: JID, _ encs: [Node], id: String, t: Int64 = 1_760_000_000) -> Node {
        Node("message", [
            "from": .jid(group), "participant": .jid(lidDevice), "id": .string(id), "type": "text", "t": .string(String(t)),
            "addressing_mode": "lid", "participant_pn": .jid(phoneNumberDevice),
        ], encs)
    }

    /// How a DM names its sender.
    public enum Addressing: Sendable {
        case lid
        case phoneNumber(withLID: Bool)
    }

    public static func enc(_ type: String, _ bytes: [UInt8], count: Int? = nil) -> Node {
        var attributes: Node.Attributes = ["v": "2", "type": .string(type)]
        if let count {
            attributes["count"] = .string(String(count))
        }
        return Node("enc", attributes, bytes: bytes)
    }

    /// Plain text.
    public static func text(_ text: String) -> WAMessage {
        var message = WAMessage()
        message.conversation = text
        return message
    }

    /// What our own phone sends our companions for a message it sent to `chat` (messaging.md §2.7).
    public static func sentByPhone(_ text: String, to chat: JID) -> WAMessage {
        var message = WAMessage()
        message.deviceSentMessage.destinationJid = chat.description
        message.deviceSentMessage.message = Self.text(text)
        return message
    }

    /// Our phone's history-sync notification (a protocol message of type 5).
    public static func historySyncNotification() -> WAMessage {
        var message = WAMessage()
        message.protocolMessage.type = 5
        message.protocolMessage.historySyncNotification.directPath = "/v/t62/history"
        message.protocolMessage.historySyncNotification.syncType = 3
        return message
    }
}

extension DeviceCredentials {
    /// Real keys with a paired account, for receive-path tests: `phoneNumber`'s device `device`, with
    /// its LID when given.
    public static func pairedForTests(phoneNumber: String, lid: String?, device: UInt16 = 7, seed: UInt64) -> DeviceCredentials {
        var random = SeededRandom(seed: seed)
        var credentials = DeviceCredentials.generate(using: &random)
        credentials.account = PairedAccount(
            jid: JID(user: phoneNumber, device: device, server: .whatsApp).description,
            lid: lid.map { JID(user: $0, device: device, server: .lid).description },
            platform: "android", businessName: nil, signedIdentity: [0x0A, 0x01, 0x02], keyIndex: 1
        )
        return credentials
    }
}
