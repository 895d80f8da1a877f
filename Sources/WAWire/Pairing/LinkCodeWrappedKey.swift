import Crypto
import CryptoExtras
import Foundation

/// An ephemeral public key sealed with a link code: `salt(32) ‖ iv(16) ‖ AES-256-CTR(pub)(32)`, 80 bytes (pairing.md §5.2).
public struct LinkCodeWrappedKey: Sendable, Hashable {
    public static let byteCount = 80
    /// `2 << 16`, as both reference clients use.
    public static let pbkdf2Iterations = 131_072

    public let salt: [UInt8]
    /// The initial 128-bit big-endian counter block.
    public let iv: [UInt8]
    public let ciphertext: [UInt8]

    /// Splits the 80 wire bytes; any other length is refused before any key derivation runs.
    ///
    /// whatsmeow tolerates trailing bytes after the first 80; we do not, since no client sends them.
    public init(bytes: [UInt8]) throws(PairingError) {
        guard bytes.count == Self.byteCount else { throw PairingError(.linkCodeWrappedKeyLength) }
        salt = Array(bytes[0..<32])
        iv = Array(bytes[32..<48])
        ciphertext = Array(bytes[48..<80])
    }

    /// Wraps `publicKey` under `code` with the given salt (32 bytes) and IV (16 bytes).
    public init(wrapping publicKey: [UInt8], code: LinkCode, salt: [UInt8], iv: [UInt8]) throws(PairingError) {
        guard publicKey.count == 32, salt.count == 32, iv.count == 16 else { throw PairingError(.keyLength) }
        self.salt = salt
        self.iv = iv
        ciphertext = try Self.counterMode(publicKey, key: Self.key(code: code, salt: salt), iv: iv)
    }

    /// Wraps `publicKey` under `code` with a fresh salt and IV from `rng`.
    public init(wrapping publicKey: [UInt8], code: LinkCode, using rng: inout some RandomNumberGenerator) throws(PairingError) {
        let salt = rng.bytes(32)
        let iv = rng.bytes(16)
        try self.init(wrapping: publicKey, code: code, salt: salt, iv: iv)
    }

    public var bytes: [UInt8] { salt + iv + ciphertext }

    /// The 32-byte public key. A wrong code yields a different key rather than an error: CTR has no integrity,
    /// so a mistyped code only shows up later, when the key bundle fails to open on the phone.
    public func unwrap(code: LinkCode) throws(PairingError) -> [UInt8] {
        try Self.counterMode(ciphertext, key: Self.key(code: code, salt: salt), iv: iv)
    }

    /// PBKDF2-HMAC-SHA256 of the 8 code characters (never the dash).
    static func key(code: LinkCode, salt: [UInt8]) throws(PairingError) -> [UInt8] {
        do {
            // The checked variant demands 210,000 rounds; the protocol fixes 131,072.
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(code.code.utf8),
                salt: salt,
                using: .sha256,
                outputByteCount: 32,
                unsafeUncheckedRounds: pbkdf2Iterations
            )
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw PairingError(.linkCodeCrypto)
        }
    }

    private static func counterMode(_ input: [UInt8], key: [UInt8], iv: [UInt8]) throws(PairingError) -> [UInt8] {
        do {
            let nonce = try AES._CTR.Nonce(nonceBytes: iv)
            return try [UInt8](AES._CTR.encrypt(input, using: SymmetricKey(data: key), nonce: nonce))
        } catch {
            throw PairingError(.linkCodeCrypto)
        }
    }
}
