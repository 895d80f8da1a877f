/// An inbound `<message>` stanza, read but not decrypted (whatsmeow `parseMessageInfo`, messaging.md §2.2–§2.4).
///
/// A stanza that cannot be read throws a `StanzaError` whose `nackCode` (487) is the ack it gets;
/// `envelope.ack(error:)` builds it from the raw node.
public struct IncomingMessage: Hashable, Sendable {
    /// One `<enc>` child.
    public struct EncryptedPart: Hashable, Sendable {
        public let type: EncryptionType
        /// `v`: 2 = a padded `Message` protobuf; 3 = the "armadillo" payload (not read here).
        public let version: Int?
        /// `count`: set when this is a resend answering a retry receipt.
        public let retryCount: Int?
        public let mediaType: String?
        /// `decrypt-fail`: `hide` asks not to show a placeholder when decryption fails.
        public let decryptFail: String?
        public let ciphertext: [UInt8]
    }

    /// What to do with the stanza once it is read (messaging.md §2.4 steps 1, 3, 4 and 8; §2.8).
    public enum Handling: Hashable, Sendable {
        /// Decrypt these parts in this order: every `pkmsg`/`msg` in document order, then every `skmsg`
        /// (groups and broadcasts only), so an SKDM installs its sender key before the `skmsg` that needs
        /// it. Unknown `<enc>` types are skipped; an empty list still gets the delivery receipt, as in
        /// whatsmeow.
        case decrypt([EncryptedPart])
        /// `<unavailable>` without `<enc>`: there is nothing for us; ack with no error.
        case unavailable(type: String?)
        /// A newsletter: `<plaintext>` holds the `Message` (nil when absent); no Signal, no receipt, only an ack.
        case plaintext([UInt8]?)
        /// Refuse with `error.nackCode`: 488 without any `<enc>`, 495 when only `msmsg` came.
        case nack(StanzaError)
    }

    /// More `<enc>` children than any sender writes (one pairwise and one `skmsg` is the usual most).
    public static let maxEncryptedParts = 16

    public let envelope: StanzaEnvelope
    public let id: String
    public let from: JID
    public let participant: JID?
    public let recipient: JID?
    /// `t`: the server's timestamp, Unix seconds.
    public let timestamp: Int64
    /// `type`: `text`, `media`, `reaction`, `poll`, `peer_msg`, … (informational).
    public let type: String?
    /// `notify`: the sender's push name; nil when absent or `-`.
    public let pushName: String?
    /// `addressing_mode`: `lid` or `pn`.
    public let addressingMode: String?
    public let senderLID: JID?
    public let senderPN: JID?
    public let participantLID: JID?
    public let participantPN: JID?
    public let peerRecipientLID: JID?
    public let peerRecipientPN: JID?
    /// `category`: `peer` for protocol messages between our own devices.
    public let category: String?
    /// `offline`: present on stanzas replayed from the offline queue.
    public let offline: String?
    /// `edit`: `1` edit, `2` pin, `3` admin edit, `7` sender revoke, `8` admin revoke.
    public let edit: String?
    /// Every `<enc>` in document order.
    public let encryptedParts: [EncryptedPart]
    /// The `type` of `<unavailable>`, or "" when it has none; nil without `<unavailable>`.
    public let unavailableType: String?
    public let plaintext: [UInt8]?
    /// Chat, sender and from-me, derived as whatsmeow does.
    public let source: MessageSource

    public init(_ node: Node, own: OwnAccount) throws(StanzaError) {
        guard node.tag == "message" else {
            throw StanzaError(.unexpectedTag, at: node.tag)
        }
        envelope = StanzaEnvelope(node)
        source = try MessageSource(node, own: own, requireParticipant: true)
        id = try node.requiredString("id")
        from = try node.requiredJID("from")
        participant = try node.optionalJID("participant")
        recipient = try node.optionalJID("recipient")
        timestamp = try node.requiredInteger("t")
        type = try node.optionalString("type")
        let notify = try node.optionalString("notify")
        pushName = notify == "-" || notify?.isEmpty == true ? nil : notify
        addressingMode = try node.optionalString("addressing_mode")
        senderLID = try node.optionalJID("sender_lid")
        senderPN = try node.optionalJID("sender_pn")
        participantLID = try node.optionalJID("participant_lid")
        participantPN = try node.optionalJID("participant_pn")
        peerRecipientLID = try node.optionalJID("peer_recipient_lid")
        peerRecipientPN = try node.optionalJID("peer_recipient_pn")
        category = try node.optionalString("category")
        offline = try node.optionalString("offline")
        edit = try node.optionalString("edit")

        var parts: [EncryptedPart] = []
        var unavailableType: String?
        var plaintext: [UInt8]?
        for child in node.children {
            switch child.tag {
            case "enc":
                guard parts.count < Self.maxEncryptedParts else {
                    throw StanzaError(.limitExceeded, at: "message/enc")
                }
                parts.append(try EncryptedPart(child))
            case "unavailable":
                unavailableType = try child.optionalString("type") ?? ""
            case "plaintext":
                plaintext = try child.binaryContent()
            default:
                continue
            }
        }
        encryptedParts = parts
        self.unavailableType = unavailableType
        self.plaintext = plaintext
    }

    /// What the receive path does next; see `Handling`.
    public var handling: Handling {
        if from.isNewsletter {
            return .plaintext(plaintext)
        }
        if encryptedParts.isEmpty {
            if let unavailableType {
                return .unavailable(type: unavailableType.isEmpty ? nil : unavailableType)
            }
            return .nack(StanzaError(.noEncryptedContent, at: "message"))
        }
        let pairwise = encryptedParts.filter(\.type.isPairwise)
        let group = source.isGroup ? encryptedParts.filter { $0.type == .senderKeyMessage } : []
        if pairwise.isEmpty, group.isEmpty, encryptedParts.contains(where: { $0.type == .messageSecretMessage }) {
            return .nack(StanzaError(.unreadableEncryption, at: "message/enc"))
        }
        return .decrypt(pairwise + group)
    }

    /// Whether a pairwise `pkmsg`/`msg` came with the stanza. A `skmsg` that fails for lack of a sender key
    /// without one is "unavailable", and its retry receipt carries `<keys>` at once (messaging.md §5.1).
    public var hasPairwisePart: Bool {
        encryptedParts.contains { $0.type.isPairwise }
    }

    /// Whether the caller should look up a stored LID for the sender before `decryptionAddress(storedLID:)`:
    /// the sender is a phone number and the stanza does not name its LID.
    public var needsStoredLID: Bool {
        guard let sender = source.sender, sender.server == .whatsApp else {
            return false
        }
        return source.senderAlt?.server != .lid
    }

    /// The device whose Signal address decrypts the `pkmsg`/`msg` parts and names the sender key of a
    /// `skmsg` (messaging.md §2.4 step 2): a phone-number sender's LID, from the stanza or else
    /// `storedLID` (the account's stored LID; the sender's device is kept), otherwise the sender itself.
    /// When the result is a LID for a phone-number sender, the caller moves that sender's PN-keyed Signal
    /// state to it first (§1.3).
    public func decryptionAddress(storedLID: JID?) -> JID {
        guard let sender = source.sender else {
            return from
        }
        guard sender.server == .whatsApp else {
            return sender
        }
        if let alt = source.senderAlt, alt.server == .lid {
            return alt
        }
        if let storedLID, storedLID.server == .lid {
            return storedLID.userJID.withDevice(sender.device)
        }
        return sender
    }

    /// The count of our next retry receipt for this message, after `previouslySent` for its id; nil once
    /// five were sent, when whatsmeow gives up. After a restart (nothing counted) a resend's `<enc count>`
    /// continues the sequence (messaging.md §5.1).
    public func retryReceiptCount(previouslySent: Int) -> Int? {
        var count = previouslySent + 1
        if count == 1, encryptedParts.count == 1, let resent = encryptedParts[0].retryCount, resent > 0 {
            count = resent + 1
        }
        return count >= 5 ? nil : count
    }
}

extension IncomingMessage.EncryptedPart {
    init(_ node: Node) throws(StanzaError) {
        type = EncryptionType(rawValue: try node.optionalString("type") ?? "")
        version = try node.optionalInteger("v").flatMap { Int(exactly: $0) }
        retryCount = try node.optionalInteger("count").flatMap { Int(exactly: $0) }
        mediaType = try node.optionalString("mediatype")
        decryptFail = try node.optionalString("decrypt-fail")
        let known: [EncryptionType] = [.preKeyMessage, .message, .senderKeyMessage, .messageSecretMessage]
        // The ciphertext of an unknown type is never read, so its form does not matter.
        ciphertext = known.contains(type) ? try node.binaryContent() : node.bytes ?? []
    }
}
