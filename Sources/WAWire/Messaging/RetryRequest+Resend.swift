extension RetryRequest {
    /// The answer to this retry receipt (whatsmeow `handleRetryReceipt`, messaging.md §5.2 step 5): the
    /// message encrypted again for the requesting device only, without `<participants>` and pairwise even
    /// in groups. `to`, `participant` and `recipient` are the receipt's, verbatim; `<enc count>` is the
    /// retry count; `<device-identity>` follows a `pkmsg`.
    ///
    /// For a group the plaintext carries our current SKDM; for our own device in a DM it is wrapped in
    /// `deviceSentMessage` — both before encryption, by the caller.
    public func resend(
        attributes: MessageAttributes,
        type: EncryptionType,
        ciphertext: [UInt8],
        deviceIdentity: [UInt8]
    ) -> Node {
        var stanza: Node.Attributes = [:]
        stanza["to"] = envelope.from
        stanza["type"] = .string(attributes.type)
        stanza["id"] = .string(messageID)
        stanza["t"] = .string(String(timestamp))
        if !isGroup {
            stanza["device_fanout"] = "false"
        }
        stanza["participant"] = envelope.participant
        stanza["recipient"] = envelope.recipient
        stanza["edit"] = edit.map(AttributeValue.string)
        var extra: Node.Attributes = ["count": .string(String(count))]
        extra["mediatype"] = attributes.mediaType.map(AttributeValue.string)
        var children = [MessageStanza.enc(type, ciphertext, extra)]
        if type == .preKeyMessage {
            children.append(Node("device-identity", bytes: deviceIdentity))
        }
        return Node("message", stanza, children)
    }
}
