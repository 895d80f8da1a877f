/// The 8-character pairing code a user types on the phone (pairing.md §5.1); its characters are the KDF password.
public struct LinkCode: Sendable, Hashable, CustomStringConvertible {
    /// Base32 without 0, I, O and U, so a code read aloud or off a screen cannot be mistyped into another valid code.
    static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTVWXYZ".utf8)

    /// The 8 upper-case characters, without the dash.
    public let code: String

    /// Encodes 5 random bytes as 8 symbols, 5 bits each, most significant bits first (RFC 4648 order, no padding).
    public init(randomBytes: [UInt8]) throws(PairingError) {
        guard randomBytes.count == 5 else { throw PairingError(.keyLength) }
        self.init(bits: randomBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    private init(bits: UInt64) {
        let symbols = (0..<8).map { index in Self.alphabet[Int(bits >> UInt64(35 - 5 * index) & 0x1F)] }
        code = String(decoding: symbols, as: UTF8.self)
    }

    /// Reads a code as a person types it: `WTP2-CQCZ` or `wtp2cqcz`.
    ///
    /// Case is ignored and one dash is allowed between the two halves, because the phone shows `XXXX-XXXX`
    /// and people copy it either way. Nothing else is forgiven: no spaces, no characters outside the alphabet.
    public init(parsing text: String) throws(PairingError) {
        var bytes = Array(text.utf8.prefix(10))
        guard text.utf8.count == bytes.count else { throw PairingError(.linkCodeFormat) }
        if bytes.count == 9 {
            guard bytes[4] == UInt8(ascii: "-") else { throw PairingError(.linkCodeFormat) }
            bytes.remove(at: 4)
        }
        guard bytes.count == 8 else { throw PairingError(.linkCodeFormat) }
        let upper = bytes.map { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") ? $0 - 0x20 : $0 }
        guard upper.allSatisfy(Self.alphabet.contains) else { throw PairingError(.linkCodeFormat) }
        code = String(decoding: upper, as: UTF8.self)
    }

    /// A fresh code from 5 bytes of `rng`.
    public static func generate(using rng: inout some RandomNumberGenerator) -> LinkCode {
        LinkCode(bits: rng.next() & 0xFF_FFFF_FFFF)
    }

    /// The form whatsmeow shows: `XXXX-XXXX`.
    public var display: String {
        "\(code.prefix(4))-\(code.suffix(4))"
    }

    /// Redacted: the code is the password that wraps the ephemeral keys, so it stays out of logs.
    public var description: String { "LinkCode(****-****)" }
}
