import Crypto
import Foundation

/// Standard Webhooks signing: HMAC-SHA256 over `id.timestamp.body`, sent as `v1,<base64>`.
/// Signed again at every attempt, because the timestamp is the attempt's.
public enum WebhookSigner {
    /// The headers for one attempt. `secrets` are the endpoint's signing secrets, the current one
    /// first; during a rotation the previous one follows, and the header carries both signatures.
    public static func sign(id: String, timestamp: Date, body: some Sequence<UInt8>, secrets: [WebhookSecret]) -> WebhookHeaders {
        precondition(!secrets.isEmpty, "an endpoint always has a signing secret")
        // A full stop in the id would let a different split of the same bytes verify (the
        // specification's warning); our ids are `evt_` and base32.
        precondition(!id.contains("."), "a webhook id never contains a full stop")
        let seconds = Int64(timestamp.timeIntervalSince1970.rounded(.down))
        let content = signedContent(id: id, timestamp: seconds, body: body)
        let signatures = secrets.map { signature(of: content, secret: $0) }
        return WebhookHeaders(id: id, timestamp: seconds, signature: signatures.joined(separator: " "))
    }

    /// `v1,` and the base64 HMAC-SHA256 of `content` under `secret`.
    static func signature(of content: [UInt8], secret: WebhookSecret) -> String {
        "v1," + Data(HMAC<SHA256>.authenticationCode(for: content, using: secret.key)).base64EncodedString()
    }

    /// The signed bytes: `{id}.{timestamp}.{body}`, the timestamp as sent (decimal seconds).
    static func signedContent(id: String, timestamp: Int64, body: some Sequence<UInt8>) -> [UInt8] {
        var content = Array(id.utf8)
        content.append(UInt8(ascii: "."))
        content.append(contentsOf: String(timestamp).utf8)
        content.append(UInt8(ascii: "."))
        content.append(contentsOf: body)
        return content
    }
}
