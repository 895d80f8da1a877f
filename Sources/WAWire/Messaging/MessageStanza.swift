/// The `<message>` stanzas we send (whatsmeow send.go `prepareMessageNode`, `sendDM`, `sendGroup`;
/// messaging.md §8.2, §8.3, §9.3). Encryption happens before: these only lay out its results.
public enum MessageStanza {
    /// One device's pairwise ciphertext in a fan-out.
    public struct DeviceCiphertext: Hashable, Sendable {
        /// The device as the device list names it (the "wire identity"), written as `<to jid>`.
        public let device: JID
        /// `pkmsg` or `msg`.
        public let type: EncryptionType
        public let ciphertext: [UInt8]

        public init(device: JID, type: EncryptionType, ciphertext: [UInt8]) {
            self.device = device
            self.type = type
            self.ciphertext = ciphertext
        }
    }

    /// The privacy token a 1:1 send carries (messaging.md §8.2): the peer's stored `trusted_contact`
    /// token, else the HMAC of the NCT salt.
    public enum PrivacyToken: Hashable, Sendable {
        case trustedContact([UInt8])
        case nctSalted([UInt8])
    }

    /// A 1:1 send: `<participants>` with one `<to jid><enc/></to>` per device (the peer's, and ours with
    /// the deviceSent plaintext), then `<device-identity>` if any `<enc>` is a `pkmsg`, then the privacy
    /// token. No `phash`: whatsmeow computes it only to compare with the ack.
    public static func direct(
        id: String,
        to: JID,
        attributes: MessageAttributes,
        recipients: [DeviceCiphertext],
        deviceIdentity: [UInt8],
        peerRecipientPN: JID? = nil,
        privacyToken: PrivacyToken? = nil
    ) -> Node {
        var stanza: Node.Attributes = ["id": .string(id), "type": .string(attributes.type), "to": .jid(to)]
        if let peerRecipientPN {
            stanza["peer_recipient_pn"] = .jid(peerRecipientPN)
        }
        stanza["edit"] = attributes.edit.map(AttributeValue.string)
        var children = [participants(recipients, encAttributes(attributes, mediaType: attributes.mediaType))]
        if recipients.contains(where: { $0.type == .preKeyMessage }) {
            children.append(Node("device-identity", bytes: deviceIdentity))
        }
        switch privacyToken {
        case .trustedContact(let token): children.append(Node("tctoken", bytes: token))
        case .nctSalted(let token): children.append(Node("cstoken", bytes: token))
        case nil: break
        }
        return Node("message", stanza, children)
    }

    /// A group send: `phash` over every device of the fan-out (`DeviceListHash.v2`), `<participants>` with
    /// the SKDM carriers (left out when there are none), `<device-identity>` if any is a `pkmsg`, then the
    /// `skmsg` with the content.
    /// `addressingMode` is `lid` for LID-mode groups (whatsmeow sends it only then).
    public static func group(
        id: String,
        to: JID,
        attributes: MessageAttributes,
        recipients: [DeviceCiphertext],
        senderKeyCiphertext: [UInt8],
        phash: String,
        deviceIdentity: [UInt8],
        addressingMode: String? = nil
    ) -> Node {
        var stanza: Node.Attributes = ["id": .string(id), "type": .string(attributes.type), "to": .jid(to)]
        stanza["addressing_mode"] = addressingMode.map(AttributeValue.string)
        stanza["edit"] = attributes.edit.map(AttributeValue.string)
        stanza["phash"] = .string(phash)
        // whatsmeow gives the SKDM carriers no mediatype (they are not the media) and the skmsg no decrypt-fail.
        // With every member device holding our sender key there is no carrier, and no `<participants>`
        // (Baileys leaves it out then; whatsmeow always distributes and always has one).
        var children = recipients.isEmpty ? [] : [participants(recipients, encAttributes(attributes, mediaType: nil))]
        if recipients.contains(where: { $0.type == .preKeyMessage }) {
            children.append(Node("device-identity", bytes: deviceIdentity))
        }
        var senderKey: Node.Attributes = ["v": "2", "type": .string(EncryptionType.senderKeyMessage.rawValue)]
        senderKey["mediatype"] = attributes.mediaType.map(AttributeValue.string)
        children.append(Node("enc", senderKey, bytes: senderKeyCiphertext))
        return Node("message", stanza, children)
    }

    /// The `<enc>` attributes besides `v` and `type`.
    static func encAttributes(_ attributes: MessageAttributes, mediaType: String?) -> Node.Attributes {
        var enc: Node.Attributes = [:]
        enc["mediatype"] = mediaType.map(AttributeValue.string)
        if attributes.hidesDecryptFailure {
            enc["decrypt-fail"] = "hide"
        }
        return enc
    }

    /// `<enc v="2" type=…>` with the extra attributes.
    static func enc(_ type: EncryptionType, _ ciphertext: [UInt8], _ extra: Node.Attributes) -> Node {
        Node("enc", Node.Attributes([
            Node.Attribute(key: "v", value: "2"),
            Node.Attribute(key: "type", value: .string(type.rawValue)),
        ] + Array(extra)), bytes: ciphertext)
    }

    private static func participants(_ recipients: [DeviceCiphertext], _ extra: Node.Attributes) -> Node {
        Node("participants", recipients.map { recipient in
            Node("to", ["jid": .jid(recipient.device)], [enc(recipient.type, recipient.ciphertext, extra)])
        })
    }
}
