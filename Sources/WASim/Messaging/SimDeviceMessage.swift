import WAWire

/// A `<message>` a linked device sends, as the server reads it (messaging.md §8.2, §8.3, §5.2 step 5):
/// the chat it goes to and one pairwise ciphertext per recipient device. Read from untrusted bytes:
/// every count and size is bounded, and anything out of shape is a `Problem` (the server's 479).
struct SimDeviceMessage: Sendable, Hashable {
    /// One `<to jid><enc/></to>` of the fan-out, or the single `<enc>` of a retry resend.
    struct Copy: Sendable, Hashable {
        /// The device as the sender named it, with the attribute's exact form (echoed as the receipt's `from`).
        let device: JID
        let written: AttributeValue
        let type: EncryptionType
        let ciphertext: [UInt8]
    }

    /// More recipient devices than any real fan-out (a user has at most 256 devices; a DM names two users).
    static let maximumCopies = 1024
    /// A ciphertext far larger than the 65,536-byte texts the simulator handles.
    static let maximumCiphertext = 256 * 1024

    let id: String
    /// The chat: a user (DM, no device) or a group.
    let to: JID
    let type: String
    /// The pairwise copies in document order (none in a group message whose members all hold the sender key).
    let copies: [Copy]
    /// `<enc count>` of a retry resend (no `<participants>`): which retry it answers.
    let retryCount: Int?
    /// `<device-identity>`: required when any copy is a `pkmsg`.
    let deviceIdentity: [UInt8]?
    /// The group's `skmsg`, after the pairwise copies.
    let senderKeyMessage: [UInt8]?
    /// `peer_recipient_pn`: the chat's phone number when `to` is a LID (relayed to the account's other devices).
    let peerRecipientPN: JID?

    /// Reads the stanza; the error's detail says what is wrong, for the violation.
    init(_ node: Node) throws(Problem) {
        guard node.tag == "message" else {
            throw Problem("not a <message>")
        }
        guard case .string(let id)? = node.attributes["id"], !id.isEmpty, id.utf8.count <= 128 else {
            throw Problem("a <message> needs an id (1 to 128 characters)")
        }
        guard let to = node.jidAttribute("to"), to.device == 0 || node.child("participants") == nil else {
            throw Problem("a <message> needs a JID-form `to` without a device (a user or a group)")
        }
        guard let type = node.attribute("type"), !type.isEmpty else {
            throw Problem("a <message> needs a type")
        }
        self.id = id
        self.to = to
        self.type = type
        peerRecipientPN = node.jidAttribute("peer_recipient_pn")
        var copies: [Copy] = []
        var senderKey: [UInt8]?
        var retryCount: Int?
        if let participants = node.child("participants") {
            let targets = participants.children
            guard !targets.isEmpty, targets.count <= Self.maximumCopies else {
                throw Problem("<participants> must hold 1...\(Self.maximumCopies) <to>")
            }
            for target in targets {
                guard target.tag == "to", let device = target.jidAttribute("jid"), let written = target.attributes["jid"] else {
                    throw Problem("every child of <participants> must be <to jid> with a JID-form jid")
                }
                guard let enc = target.child("enc"), target.children.count == 1 else {
                    throw Problem("<to jid=\"\(device)\"> must hold exactly one <enc>")
                }
                let (type, ciphertext) = try Self.pairwise(enc)
                guard !copies.contains(where: { $0.device == device }) else {
                    throw Problem("<to jid=\"\(device)\"> appears twice")
                }
                copies.append(Copy(device: device, written: written, type: type, ciphertext: ciphertext))
            }
            for enc in node.children(named: "enc") {
                guard enc.attribute("type") == EncryptionType.senderKeyMessage.rawValue, senderKey == nil, to.isGroup else {
                    throw Problem("beside <participants> only a group's single <enc type=\"skmsg\"> may follow")
                }
                senderKey = try Self.ciphertext(enc)
            }
        } else if to.isGroup, node.children(named: "enc").count == 1, let enc = node.child("enc"),
                  enc.attribute("type") == EncryptionType.senderKeyMessage.rawValue {
            // Every member device holds the sender key already (Baileys then sends no <participants>).
            senderKey = try Self.ciphertext(enc)
        } else {
            // A retry resend (§5.2 step 5): one pairwise <enc count> for the device that asked.
            let encs = node.children(named: "enc")
            guard encs.count == 1, let enc = encs.first, let written = node.attributes["to"] else {
                throw Problem("a <message> without <participants> must be a retry resend with exactly one <enc>")
            }
            guard let countText = enc.attribute("count"), let count = Int(countText), (1...100).contains(count) else {
                throw Problem("a retry resend's <enc> needs count=\"1…100\"")
            }
            let (type, ciphertext) = try Self.pairwise(enc)
            // To a group, the device that asked is the receipt's participant, which the resend copies.
            if to.isGroup {
                guard let participant = node.jidAttribute("participant"), let named = node.attributes["participant"] else {
                    throw Problem("a group retry resend needs a JID-form participant")
                }
                copies = [Copy(device: participant, written: named, type: type, ciphertext: ciphertext)]
            } else {
                copies = [Copy(device: to, written: written, type: type, ciphertext: ciphertext)]
            }
            retryCount = count
        }
        self.copies = copies
        self.retryCount = retryCount
        senderKeyMessage = senderKey
        deviceIdentity = node.child("device-identity")?.bytes
        if copies.contains(where: { $0.type == .preKeyMessage }), deviceIdentity?.isEmpty != false {
            throw Problem("a <message> with a pkmsg needs <device-identity> (messaging.md §8.3)")
        }
    }

    /// `<enc v="2" type="pkmsg|msg">{ciphertext}</enc>`.
    private static func pairwise(_ enc: Node) throws(Problem) -> (EncryptionType, [UInt8]) {
        guard enc.attribute("v") == "2" else {
            throw Problem("<enc> needs v=\"2\"")
        }
        let type = EncryptionType(rawValue: enc.attribute("type") ?? "")
        guard type.isPairwise else {
            throw Problem("a pairwise <enc> needs type=\"pkmsg\" or \"msg\"")
        }
        return (type, try ciphertext(enc))
    }

    private static func ciphertext(_ enc: Node) throws(Problem) -> [UInt8] {
        guard let bytes = enc.bytes, !bytes.isEmpty, bytes.count <= maximumCiphertext else {
            throw Problem("<enc> needs 1...\(maximumCiphertext) bytes of ciphertext")
        }
        return bytes
    }

    /// Why a device's message cannot be read.
    struct Problem: Error, Sendable, Hashable {
        let detail: String

        init(_ detail: String) {
            self.detail = detail
        }
    }
}
