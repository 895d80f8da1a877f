import Crypto

/// A Curve25519 key pair (clamped private key, X25519 public key) for agreements and signatures.
public struct Curve25519KeyPair: Sendable, CustomStringConvertible {
    /// 32 bytes, clamped (bits 0–2 and 255 cleared, bit 254 set).
    public let privateKey: [UInt8]
    /// 32 bytes, the Montgomery u coordinate.
    public let publicKey: [UInt8]

    // Kept because building it from raw bytes computes the public key again (a scalar multiplication).
    private let agreementKey: Curve25519.KeyAgreement.PrivateKey

    /// Clamps `privateKey` (32 bytes) and derives its public key.
    public init(privateKey: [UInt8]) throws {
        guard privateKey.count == 32 else {
            throw CurveError(.invalidKeyLength)
        }
        let clamped = Self.clamped(privateKey)
        do {
            agreementKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: clamped)
        } catch {
            throw CurveError(.invalidKeyLength)
        }
        self.privateKey = clamped
        publicKey = Array(agreementKey.publicKey.rawRepresentation)
    }

    /// A fresh key pair from the system's secure random generator.
    public static func generate() -> Curve25519KeyPair {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// A key pair from `generator` (seeded generators make tests reproducible).
    public static func generate(using generator: inout some RandomNumberGenerator) -> Curve25519KeyPair {
        // Whole words: the system generator makes one getrandom call per word.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for _ in 0..<4 {
            withUnsafeBytes(of: generator.next().littleEndian) { bytes.append(contentsOf: $0) }
        }
        // Thirty-two bytes are always a valid private key.
        return try! Curve25519KeyPair(privateKey: bytes)
    }

    /// The X25519 shared secret with `publicKey` (32 bytes); an all-zero result is refused.
    public func sharedSecret(with publicKey: [UInt8]) throws -> [UInt8] {
        guard publicKey.count == 32 else {
            throw CurveError(.invalidKeyLength)
        }
        let secret: [UInt8]
        do {
            let peer = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey)
            secret = try agreementKey.sharedSecretFromKeyAgreement(with: peer).withUnsafeBytes { Array($0) }
        } catch {
            throw CurveError(.invalidPublicKey)
        }
        // OR every byte together so the check takes the same time whatever the secret.
        guard secret.reduce(0, |) != 0 else {
            throw CurveError(.invalidPublicKey)
        }
        return secret
    }

    /// Shows the public key only, so logging a key pair never prints the private key.
    public var description: String {
        let hex = publicKey.map { byte in (byte < 0x10 ? "0" : "") + String(byte, radix: 16) }
        return "Curve25519KeyPair(publicKey: \(hex.joined()))"
    }

    static func clamped(_ key: [UInt8]) -> [UInt8] {
        var key = key
        key[0] &= 0xF8
        key[31] &= 0x7F
        key[31] |= 0x40
        return key
    }
}
