import Crypto
import WAWire

/// Derives one-time prekeys from `DeviceCredentials.preKeySeed`, so credentials stay small however many
/// prekeys were uploaded: key `id` = X25519 key from HKDF-SHA256(seed, info: label ‖ BE32(id)).
public enum OneTimePreKeys {
    /// The seed `DeviceCredentials.generate` makes; shorter seeds are refused.
    public static let seedSize = 32
    /// Prekey ids are 24-bit on the wire; 0 is not used.
    public static let maximumID: UInt32 = 0xFF_FFFF

    private static let label = Array("pairgate one-time prekey".utf8)

    /// Why a prekey cannot be derived.
    public struct DerivationError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String { "OneTimePreKeys.DerivationError(seed or id out of range)" }
    }

    /// The key pair of one-time prekey `id` (1…0xFFFFFF) derived from `seed` (at least 32 bytes).
    public static func keyPair(seed: [UInt8], id: UInt32) throws(DerivationError) -> Curve25519KeyPair {
        guard seed.count >= seedSize, id >= 1, id <= maximumID else {
            throw DerivationError()
        }
        let idBytes: [UInt8] = [UInt8(truncatingIfNeeded: id >> 24), UInt8(truncatingIfNeeded: id >> 16),
                                UInt8(truncatingIfNeeded: id >> 8), UInt8(truncatingIfNeeded: id)]
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: seed), info: label + idBytes, outputByteCount: 32
        )
        // Thirty-two bytes are always a valid X25519 private key (it is clamped on the way in).
        return try! Curve25519KeyPair(privateKey: key.withUnsafeBytes { Array($0) })
    }

    /// The `count` ids that follow `first`, wrapping from 0xFFFFFF back to 1 as 24-bit ids must.
    public static func ids(from first: UInt32, count: Int) -> [UInt32] {
        let start = (first >= 1 && first <= maximumID) ? first : 1
        return (0..<max(0, count)).map { offset in
            UInt32((UInt64(start) - 1 + UInt64(offset)) % UInt64(maximumID) + 1)
        }
    }
}
