/// The kind of a Signal ciphertext, named as in WhatsApp's `<enc type="…">`.
public enum CiphertextType: String, Sendable, Hashable {
    /// PreKeyWhisperMessage: the first messages of a session we initiated.
    case pkmsg
    /// WhisperMessage.
    case msg
    /// SenderKeyMessage (groups and status).
    case skmsg
}
