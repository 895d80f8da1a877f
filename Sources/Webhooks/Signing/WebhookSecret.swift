import Crypto
import Foundation

/// An endpoint's signing secret, `whsec_` and the base64 of 24 to 64 random bytes (Standard
/// Webhooks). Shown to the tenant once; `description` never prints it.
public struct WebhookSecret: Sendable, Equatable, CustomStringConvertible {
    public static let prefix = "whsec_"
    /// The specification's lower bound (192 bits) and its 512-bit upper bound.
    public static let allowedByteCounts = 24...64

    /// The raw key bytes, the HMAC key.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(WebhookSecretError) {
        guard Self.allowedByteCounts.contains(bytes.count) else { throw WebhookSecretError() }
        self.bytes = bytes
    }

    /// Parses the `whsec_<base64>` form.
    public init(parsing text: String) throws(WebhookSecretError) {
        guard text.hasPrefix(Self.prefix), text.utf8.count <= 200,
              let decoded = Data(base64Encoded: String(text.dropFirst(Self.prefix.count)))
        else { throw WebhookSecretError() }
        try self.init(bytes: Array(decoded))
    }

    /// A new secret of `byteCount` bytes (32 by default) drawn from `random`, which must be a
    /// cryptographically secure generator outside tests.
    public static func generate(byteCount: Int = 32, using random: inout some RandomNumberGenerator) -> WebhookSecret {
        let count = min(max(byteCount, allowedByteCounts.lowerBound), allowedByteCounts.upperBound)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            withUnsafeBytes(of: random.next() as UInt64) { bytes.append(contentsOf: $0.prefix(count - bytes.count)) }
        }
        // `init(bytes:)` accepts every count in the clamped range.
        return WebhookSecret(unchecked: bytes)
    }

    /// A new 32-byte secret from the system's secure generator.
    public static func generate() -> WebhookSecret {
        var random = SystemRandomNumberGenerator()
        return generate(using: &random)
    }

    private init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The `whsec_<base64>` form, for the tenant and for sealing at rest.
    public var serialized: String { Self.prefix + Data(bytes).base64EncodedString() }

    public var description: String { "WebhookSecret(redacted)" }

    var key: SymmetricKey { SymmetricKey(data: bytes) }
}
