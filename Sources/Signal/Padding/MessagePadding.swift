/// WhatsApp's padding of a v2 `<enc>` plaintext (messaging.md §2.5): n bytes of value n, 1 ≤ n ≤ 16,
/// inside the Signal plaintext (before Signal's own AES-CBC padding).
public enum MessagePadding {
    /// `plaintext` followed by n bytes of value n, n drawn uniformly from 1…16.
    public static func pad(_ plaintext: [UInt8], using generator: inout some RandomNumberGenerator) -> [UInt8] {
        let count = Int(generator.next() % 16) + 1
        return plaintext + [UInt8](repeating: UInt8(count), count: count)
    }

    /// `padded` without its padding. Refuses (`invalid_padding`) an empty input, a last byte outside
    /// 1…16 or beyond the length, and padding bytes that are not all equal to it (whatsmeow's check;
    /// senders pick 1–15 or 1–16, so both are accepted).
    public static func unpad(_ padded: [UInt8]) throws(SignalError) -> [UInt8] {
        guard let last = padded.last, (1...16).contains(last), Int(last) <= padded.count else {
            throw SignalError(.invalidPadding)
        }
        let count = Int(last)
        guard padded.suffix(count).allSatisfy({ $0 == last }) else {
            throw SignalError(.invalidPadding)
        }
        return Array(padded.dropLast(count))
    }
}
