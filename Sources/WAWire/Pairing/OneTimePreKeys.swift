import Crypto

/// Derives one-time prekeys from a device's 32-byte seed (`DeviceCredentials.preKeySeed`), so credentials
/// stay small however many prekeys were handed out: key `id` = X25519 key from HKDF-SHA256(seed, info:
/// label ‖ BE32(id)).
///
/// Ids are 24-bit and split in two ranges that never meet: `uploadIDs` for the batches uploaded to the
/// server (the session machine counts them in `nextPreKeyID`), `retryIDs` for the single keys a retry
/// receipt hands to one peer (the receive path counts them with the rest of its state). Neither side
/// can then give out an id the other already did, without the two sharing a counter.
public enum OneTimePreKeys {
    /// The seed `DeviceCredentials.generate` makes; shorter seeds are refused.
    public static let seedSize = 32
    /// Prekey ids are 24-bit on the wire; 0 is not used.
    public static let maximumID: UInt32 = 0xFF_FFFF
    /// Ids of uploaded batches: they wrap from the top of this range back to 1.
    public static let uploadIDs: ClosedRange<UInt32> = 1...0xEF_FFFF
    /// Ids of the keys in retry receipts' `<keys>` (messaging.md §5.1): the top 1,048,576.
    public static let retryIDs: ClosedRange<UInt32> = 0xF0_0000...0xFF_FFFF

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

    /// The `count` upload ids that follow `first`, wrapping from the top of `uploadIDs` back to 1. A
    /// `first` outside the range starts at 1.
    public static func ids(from first: UInt32, count: Int) -> [UInt32] {
        let size = UInt64(uploadIDs.upperBound)
        let start = uploadIDs.contains(first) ? first : 1
        return (0..<max(0, count)).map { offset in
            UInt32((UInt64(start) - 1 + UInt64(offset)) % size + 1)
        }
    }

    /// The retry-receipt key id number `sequence` (0, 1, 2, … as the receive path counts them),
    /// wrapping within `retryIDs`.
    public static func retryID(sequence: UInt64) -> UInt32 {
        let size = UInt64(retryIDs.count)
        return retryIDs.lowerBound + UInt32(sequence % size)
    }
}
