import Crypto
import Foundation

/// Checks a received webhook the way a tenant's receiver should (Standard Webhooks): the three
/// headers are present, the timestamp is within `tolerance` of `now`, and one `v1` signature in
/// the header matches one of `secrets`, compared in constant time. Our tests and docs use it.
public struct WebhookVerifier: Sendable {
    /// Longer signature headers are refused before any work: two signatures take 90 bytes.
    public static let maximumSignatureHeaderLength = 4096

    public var secrets: [WebhookSecret]
    /// How far the timestamp may be from the receiver's clock, either way (replay protection).
    public var tolerance: Duration

    public init(secrets: [WebhookSecret], tolerance: Duration = .seconds(300)) {
        self.secrets = secrets
        self.tolerance = tolerance
    }

    /// Verifies `body` against header values taken from a request (names case-insensitive).
    public func verify(body: some Collection<UInt8>, headers: [String: String], now: Date) throws(WebhookVerificationError) {
        var lowered: [String: String] = [:]
        for (name, value) in headers { lowered[name.lowercased()] = value }
        try verify(
            body: body,
            id: lowered[WebhookHeaders.idName],
            timestamp: lowered[WebhookHeaders.timestampName],
            signature: lowered[WebhookHeaders.signatureName],
            now: now
        )
    }

    public func verify(
        body: some Collection<UInt8>, id: String?, timestamp: String?, signature: String?, now: Date
    ) throws(WebhookVerificationError) {
        guard let id, !id.isEmpty, let timestamp, !timestamp.isEmpty, let signature, !signature.isEmpty else {
            throw WebhookVerificationError(.missingHeaders)
        }
        guard timestamp.utf8.count <= 15, timestamp.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let seconds = Int64(timestamp), String(seconds) == timestamp
        else { throw WebhookVerificationError(.invalidTimestamp) }
        let age = now.timeIntervalSince1970 - Double(seconds)
        if age > tolerance.timeInterval { throw WebhookVerificationError(.timestampTooOld) }
        if -age > tolerance.timeInterval { throw WebhookVerificationError(.timestampTooNew) }
        guard signature.utf8.count <= Self.maximumSignatureHeaderLength else { throw WebhookVerificationError(.noMatchingSignature) }

        let content = WebhookSigner.signedContent(id: id, timestamp: seconds, body: body)
        for entry in signature.split(separator: " ") {
            guard entry.hasPrefix("v1,"), let mac = Data(base64Encoded: String(entry.dropFirst(3))), mac.count == SHA256.byteCount else {
                continue
            }
            for secret in secrets where HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: content, using: secret.key) {
                return
            }
        }
        throw WebhookVerificationError(.noMatchingSignature)
    }
}
