import Crypto
import Foundation

/// HMAC-SHA-256 (RFC 2104) over swift-crypto's SHA-256, for the Noise key schedule and Signal's KDFs.
///
/// swift-crypto's `HMAC<SHA256>` is generic and not inlinable, so each use from this module ran
/// unspecialized code with runtime metadata lookups: the key schedule cost 17 % of a handshake,
/// most of it that overhead rather than hashing. This is the same construction on the concrete
/// `SHA256`; RFC 4231's vectors and a comparison with `HMAC<SHA256>` check it.
public struct HMACSHA256: Sendable {
    public static let blockSize = 64

    private var inner: SHA256
    private var outer: SHA256

    /// Keys longer than a block are hashed first, as RFC 2104 says.
    public init(key: some ContiguousBytes) {
        var inner = SHA256()
        var outer = SHA256()
        key.withUnsafeBytes { key in
            withUnsafeTemporaryAllocation(byteCount: Self.blockSize, alignment: 8) { block in
                block.initializeMemory(as: UInt8.self, repeating: 0)
                if key.count > Self.blockSize {
                    var keyHash = SHA256()
                    keyHash.update(bufferPointer: key)
                    keyHash.finalize().withUnsafeBytes { block.copyMemory(from: $0) }
                } else {
                    block.copyMemory(from: key)
                }
                for index in block.indices {
                    block[index] ^= 0x36
                }
                inner.update(bufferPointer: UnsafeRawBufferPointer(block))
                for index in block.indices {
                    block[index] ^= 0x36 ^ 0x5C
                }
                outer.update(bufferPointer: UnsafeRawBufferPointer(block))
            }
        }
        self.inner = inner
        self.outer = outer
    }

    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { inner.update(bufferPointer: $0) }
    }

    /// The 32-byte code; the value stays usable (a copy can go on with other data).
    public func finalize() -> [UInt8] {
        var outer = outer
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize().withUnsafeBytes { Array($0) }
    }

    public static func authenticationCode(for message: some ContiguousBytes, key: some ContiguousBytes) -> [UInt8] {
        var hmac = HMACSHA256(key: key)
        hmac.update(message)
        return hmac.finalize()
    }
}
