import Crypto
import Foundation

/// The admin page's short-lived link: `/admin/page?expires=<unix seconds>&sig=<mac>`, where the
/// MAC is HMAC-SHA256 under `http.link_key` over the expiry (with a label of its own, so a
/// pairing link's MAC never passes for it). An operator asks for one with the admin token
/// (`POST /admin/page/links`) and opens it in a browser: it shows the fleet page and its event
/// stream — reading only — until it expires, and the admin token never enters the browser.
struct FleetPageLinkSigner: Sendable {
    private let key: SymmetricKey

    init(key: [UInt8]) {
        self.key = SymmetricKey(data: key)
    }

    struct Link: Sendable, Hashable {
        var expires: Int64
        var signature: String

        var query: String { "expires=\(expires)&sig=\(signature)" }
    }

    enum Check: Sendable, Hashable {
        case valid(expiresAt: Date)
        case expired
        case invalid
    }

    func sign(expiresAt: Date) -> Link {
        let expires = Int64(expiresAt.timeIntervalSince1970.rounded(.up))
        let mac = HMAC<SHA256>.authenticationCode(for: Self.message(expires), using: key)
        return Link(expires: expires, signature: Data(mac).base64URL)
    }

    /// An expired link is told apart from a forged one only once its MAC is valid.
    func check(expires: String?, signature: String?, now: Date) -> Check {
        guard let expiresText = expires, expiresText.count <= 12, let expires = Int64(expiresText),
              let signature, let mac = Data(base64URL: signature)
        else { return .invalid }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.message(expires), using: key) else { return .invalid }
        let expiresAt = Date(timeIntervalSince1970: Double(expires))
        return expiresAt > now ? .valid(expiresAt: expiresAt) : .expired
    }

    private static func message(_ expires: Int64) -> Data {
        Data("pairgate-fleet-page-v1\n\(expires)".utf8)
    }
}
