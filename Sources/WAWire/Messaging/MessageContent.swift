import Foundation
import SwiftProtobuf

/// A decoded `Message` plaintext summarised for an inbox: what kind it is, its text, and the parts the
/// receive path acts on (messaging.md §2.6, §2.7).
///
/// Fields this client does not declare are kept (in `message`'s unknown fields and in `raw`); they never
/// fail decoding. Only bytes that are not a protobuf at all throw `invalidProtobuf` (nack 491).
public struct MessageContent: Hashable, Sendable {
    /// A stable name for the kind of content, for storage and metrics.
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// `conversation`: plain text.
        public static let text = Kind(rawValue: "text")
        /// Text with a link preview, a reply or mentions.
        public static let extendedText = Kind(rawValue: "extended_text")
        public static let image = Kind(rawValue: "image")
        public static let video = Kind(rawValue: "video")
        /// A round video note.
        public static let videoNote = Kind(rawValue: "video_note")
        /// Audio files and voice notes.
        public static let audio = Kind(rawValue: "audio")
        public static let document = Kind(rawValue: "document")
        public static let sticker = Kind(rawValue: "sticker")
        public static let contact = Kind(rawValue: "contact")
        public static let location = Kind(rawValue: "location")
        public static let reaction = Kind(rawValue: "reaction")
        public static let poll = Kind(rawValue: "poll")
        /// An encrypted poll vote (needs the poll's message secret to read).
        public static let pollVote = Kind(rawValue: "poll_vote")
        /// A protocol message: revoke, edit, history sync, key share, …; see `protocolType`.
        public static let `protocol` = Kind(rawValue: "protocol")
        /// Only a sender key distribution, the carrier of a group's first message to a device.
        public static let senderKeyDistribution = Kind(rawValue: "sender_key_distribution")
        /// Content this client does not declare; `raw` keeps it.
        public static let unknown = Kind(rawValue: "unknown")

        public var description: String {
            rawValue
        }
    }

    /// `ProtocolMessage.type` as its number, so that types newer than this client survive.
    public struct ProtocolType: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int32

        public init(rawValue: Int32) {
            self.rawValue = rawValue
        }

        public static let revoke = ProtocolType(rawValue: 0)
        public static let ephemeralSetting = ProtocolType(rawValue: 3)
        public static let historySyncNotification = ProtocolType(rawValue: 5)
        public static let appStateSyncKeyShare = ProtocolType(rawValue: 6)
        public static let messageEdit = ProtocolType(rawValue: 14)
        public static let peerDataOperationRequest = ProtocolType(rawValue: 16)
        public static let peerDataOperationResponse = ProtocolType(rawValue: 17)
        public static let lidMigrationMappingSync = ProtocolType(rawValue: 22)
    }

    /// The wrappers that were taken off, in whatsmeow's order (`UnwrapRaw`).
    public struct Wrappers: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8

        public init(rawValue: UInt8) {
            self.rawValue = rawValue
        }

        /// Sent by another of our devices (`deviceSentMessage`).
        public static let deviceSent = Wrappers(rawValue: 1 << 0)
        public static let botInvoke = Wrappers(rawValue: 1 << 1)
        /// A disappearing-messages chat.
        public static let ephemeral = Wrappers(rawValue: 1 << 2)
        public static let viewOnce = Wrappers(rawValue: 1 << 3)
        public static let lottieSticker = Wrappers(rawValue: 1 << 4)
        public static let documentWithCaption = Wrappers(rawValue: 1 << 5)
        public static let edited = Wrappers(rawValue: 1 << 6)
    }

    /// A group's sender key, which must be installed before the stanza's `skmsg` is decrypted.
    public struct SenderKeyDistribution: Hashable, Sendable {
        /// The group JID as the sender wrote it (`…@g.us`, `status@broadcast`).
        public let groupID: String
        /// The serialized Signal SenderKeyDistributionMessage.
        public let message: [UInt8]
    }

    public let kind: Kind
    /// The text to show: the conversation, extended text, a caption, a reaction's emoji or a poll's name.
    public let text: String?
    /// The content after unwrapping (deviceSent → botInvoke → ephemeral → viewOnce → lottieSticker →
    /// documentWithCaption → edited), with the outer `messageContextInfo` when the inner has none.
    public let message: WAMessage
    public let wrappers: Wrappers
    /// `deviceSentMessage.destinationJID`: the chat a message from another of our devices belongs to.
    public let deviceSentDestination: String?
    /// Read where whatsmeow reads it (after the deviceSent unwrap only), like `protocolMessage`.
    public let senderKeyDistribution: SenderKeyDistribution?
    /// `protocolMessage` (after the deviceSent unwrap only), when present.
    public let protocolMessage: WAProtocolMessage?
    /// `messageContextInfo.messageSecret` (32 bytes) of the outer message (where whatsmeow reads it),
    /// else of the unwrapped one; stored under (chat, sender, id) for poll votes, encrypted reactions
    /// and bot replies.
    public let messageSecret: [UInt8]?
    /// The plaintext as given (unpadded), for storage.
    public let raw: [UInt8]

    /// Decodes an unpadded `<enc v="2">` plaintext.
    public init(decoding plaintext: [UInt8]) throws(StanzaError) {
        let outer: WAMessage
        do {
            outer = try WAMessage(serializedBytes: plaintext)
        } catch {
            throw StanzaError(.invalidProtobuf, at: "Message")
        }
        raw = plaintext

        var wrappers: Wrappers = []
        var message = outer
        var destination: String?
        if outer.hasDeviceSentMessage, outer.deviceSentMessage.hasMessage {
            wrappers.insert(.deviceSent)
            destination = outer.deviceSentMessage.hasDestinationJid ? outer.deviceSentMessage.destinationJid : nil
            message = outer.deviceSentMessage.message
        }
        let protocolLevel = message
        let steps: [(Wrappers, (WAMessage) -> WAFutureProofMessage?)] = [
            (.botInvoke, { $0.hasBotInvokeMessage ? $0.botInvokeMessage : nil }),
            (.ephemeral, { $0.hasEphemeralMessage ? $0.ephemeralMessage : nil }),
            (.viewOnce, { $0.hasViewOnceMessage ? $0.viewOnceMessage : nil }),
            (.viewOnce, { $0.hasViewOnceMessageV2 ? $0.viewOnceMessageV2 : nil }),
            (.viewOnce, { $0.hasViewOnceMessageV2Extension ? $0.viewOnceMessageV2Extension : nil }),
            (.lottieSticker, { $0.hasLottieStickerMessage ? $0.lottieStickerMessage : nil }),
            (.documentWithCaption, { $0.hasDocumentWithCaptionMessage ? $0.documentWithCaptionMessage : nil }),
            (.edited, { $0.hasEditedMessage ? $0.editedMessage : nil }),
        ]
        for (wrapper, inner) in steps {
            if let wrapped = inner(message), wrapped.hasMessage {
                wrappers.insert(wrapper)
                message = wrapped.message
            }
        }
        if !message.hasMessageContextInfo, outer.hasMessageContextInfo {
            message.messageContextInfo = outer.messageContextInfo
        }

        self.message = message
        self.wrappers = wrappers
        deviceSentDestination = destination
        if protocolLevel.hasSenderKeyDistributionMessage {
            let distribution = protocolLevel.senderKeyDistributionMessage
            senderKeyDistribution = SenderKeyDistribution(
                groupID: distribution.groupID, message: [UInt8](distribution.axolotlSenderKeyDistributionMessage)
            )
        } else {
            senderKeyDistribution = nil
        }
        protocolMessage = protocolLevel.hasProtocolMessage ? protocolLevel.protocolMessage : nil
        let secret = outer.messageContextInfo.hasMessageSecret ? outer.messageContextInfo : message.messageContextInfo
        messageSecret = secret.hasMessageSecret ? [UInt8](secret.messageSecret) : nil
        (kind, text) = Self.summary(of: message)
    }

    /// `protocolMessage.type`, when there is a protocol message.
    public var protocolType: ProtocolType? {
        protocolMessage.map { ProtocolType(rawValue: $0.type) }
    }

    /// The chat of a message from another of our devices, when `deviceSentDestination` is a JID.
    public var deviceSentChat: JID? {
        deviceSentDestination.flatMap(JID.init(parsing:))
    }

    /// Kind and text of the unwrapped content: content first, then protocol, then a bare sender key.
    private static func summary(of message: WAMessage) -> (Kind, String?) {
        if message.hasConversation {
            return (.text, message.conversation)
        }
        if message.hasExtendedTextMessage {
            return (.extendedText, message.extendedTextMessage.text)
        }
        if message.hasImageMessage {
            return (.image, caption(message.imageMessage.caption))
        }
        if message.hasVideoMessage {
            return (.video, caption(message.videoMessage.caption))
        }
        if message.hasPtvMessage {
            return (.videoNote, caption(message.ptvMessage.caption))
        }
        if message.hasAudioMessage {
            return (.audio, nil)
        }
        if message.hasDocumentMessage {
            return (.document, caption(message.documentMessage.caption))
        }
        if message.hasStickerMessage {
            return (.sticker, nil)
        }
        if message.hasContactMessage {
            return (.contact, caption(message.contactMessage.displayName))
        }
        if message.hasLocationMessage {
            return (.location, caption(message.locationMessage.name))
        }
        if message.hasReactionMessage {
            return (.reaction, message.reactionMessage.text)
        }
        let polls = [
            (message.hasPollCreationMessage, message.pollCreationMessage),
            (message.hasPollCreationMessageV2, message.pollCreationMessageV2),
            (message.hasPollCreationMessageV3, message.pollCreationMessageV3),
        ]
        if let poll = polls.first(where: \.0)?.1 {
            return (.poll, caption(poll.name))
        }
        if message.hasPollUpdateMessage {
            return (.pollVote, nil)
        }
        if message.hasProtocolMessage {
            return (.protocol, nil)
        }
        // A field this client does not declare is content it cannot name, even beside a sender key.
        if message.hasSenderKeyDistributionMessage, message.unknownFields.data.isEmpty {
            return (.senderKeyDistribution, nil)
        }
        return (.unknown, nil)
    }

    private static func caption(_ text: String) -> String? {
        text.isEmpty ? nil : text
    }
}
