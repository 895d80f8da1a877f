/// The stanza attributes a `Message` we send implies (whatsmeow send.go `getTypeFromMessage`,
/// `getMediaTypeFromMessage`, `getEditAttribute`; messaging.md §8.2).
public struct MessageAttributes: Hashable, Sendable {
    /// The `<message type>`: `text`, `media`, `reaction` or `poll`.
    public var type: String
    /// The `<enc mediatype>`: `image`, `video`, `gif`, `audio`, `ptt`, `document`, `sticker`, `vcard`, `url`.
    public var mediaType: String?
    /// The `<message edit>`: `1` edit, `2` pin, `7` sender revoke, `8` admin revoke.
    public var edit: String?
    /// `<enc decrypt-fail="hide">`: for edits, reactions and poll votes, which should vanish rather than
    /// show a placeholder when they cannot be decrypted.
    public var hidesDecryptFailure: Bool

    public init(type: String, mediaType: String? = nil, edit: String? = nil, hidesDecryptFailure: Bool = false) {
        self.type = type
        self.mediaType = mediaType
        self.edit = edit
        self.hidesDecryptFailure = hidesDecryptFailure
    }

    /// The attributes whatsmeow derives from `message`.
    public init(for message: WAMessage) {
        let mediaType = Self.mediaType(of: message)
        let type = Self.type(of: message, mediaType: mediaType)
        let edit = Self.edit(of: message)
        self.init(
            type: type,
            mediaType: mediaType,
            edit: edit,
            hidesDecryptFailure: edit != nil || type == "reaction" || message.hasPollUpdateMessage
        )
    }

    /// The content inside the wrappers whatsmeow looks through for type and media type.
    private static func unwrapped(_ message: WAMessage) -> WAMessage? {
        for wrapper in [
            (message.hasViewOnceMessage, message.viewOnceMessage),
            (message.hasViewOnceMessageV2, message.viewOnceMessageV2),
            (message.hasViewOnceMessageV2Extension, message.viewOnceMessageV2Extension),
            (message.hasLottieStickerMessage, message.lottieStickerMessage),
            (message.hasEphemeralMessage, message.ephemeralMessage),
            (message.hasDocumentWithCaptionMessage, message.documentWithCaptionMessage),
        ] where wrapper.0 {
            return wrapper.1.message
        }
        return nil
    }

    private static func type(of message: WAMessage, mediaType: String?) -> String {
        if let inner = unwrapped(message) {
            return type(of: inner, mediaType: mediaType)
        }
        if message.hasReactionMessage {
            return "reaction"
        }
        if message.hasPollCreationMessage || message.hasPollUpdateMessage {
            return "poll"
        }
        return mediaType == nil ? "text" : "media"
    }

    private static func mediaType(of message: WAMessage) -> String? {
        if let inner = unwrapped(message) {
            return mediaType(of: inner)
        }
        if message.hasExtendedTextMessage, message.extendedTextMessage.hasTitle {
            return "url"
        }
        if message.hasImageMessage {
            return "image"
        }
        if message.hasStickerMessage {
            return "sticker"
        }
        if message.hasDocumentMessage {
            return "document"
        }
        if message.hasAudioMessage {
            return message.audioMessage.ptt ? "ptt" : "audio"
        }
        if message.hasVideoMessage {
            return message.videoMessage.gifPlayback ? "gif" : "video"
        }
        if message.hasContactMessage {
            return "vcard"
        }
        return nil
    }

    private static func edit(of message: WAMessage) -> String? {
        if message.hasEditedMessage, message.editedMessage.hasMessage {
            return edit(of: message.editedMessage.message)
        }
        if message.hasProtocolMessage, message.protocolMessage.hasKey {
            switch MessageContent.ProtocolType(rawValue: message.protocolMessage.type) {
            case .revoke:
                return message.protocolMessage.key.fromMe ? "7" : "8"
            case .messageEdit where message.protocolMessage.hasEditedMessage:
                return "1"
            default:
                return nil
            }
        }
        if message.hasReactionMessage, message.reactionMessage.text.isEmpty {
            return "7"
        }
        return nil
    }
}
