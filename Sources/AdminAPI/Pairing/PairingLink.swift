import Crypto
import Foundation

/// The short-lived link to one pairing's page: `?pairing=<id>&expires=<unix seconds>&sig=<mac>`,
/// where the MAC is HMAC-SHA256 over the pairing id and the expiry under `http.link_key`. Every
/// instance shares the key (configuration), so any instance accepts any instance's links. A
/// link opens that pairing's page, its event stream and its QR image, nothing else.
public struct PairingLinkSigner: Sendable {
    private let key: SymmetricKey

    public init(key: [UInt8]) {
        self.key = SymmetricKey(data: key)
    }

    public struct Link: Sendable, Hashable {
        public var pairingID: UUID
        public var expires: Int64
        public var signature: String

        /// The query string that carries the link.
        public var query: String {
            "pairing=\(pairingID.uuidString.lowercased())&expires=\(expires)&sig=\(signature)"
        }
    }

    public enum Check: Sendable, Hashable {
        case valid(pairingID: UUID)
        case expired
        case invalid
    }

    public func sign(pairingID: UUID, expiresAt: Date) -> Link {
        let expires = Int64(expiresAt.timeIntervalSince1970.rounded(.up))
        let mac = HMAC<SHA256>.authenticationCode(for: Self.message(pairingID, expires), using: key)
        return Link(pairingID: pairingID, expires: expires, signature: Data(mac).base64URL)
    }

    /// Checks the link's three query parameters; an expired link is told apart from a forged one
    /// only once its MAC is valid.
    public func check(pairing: String?, expires: String?, signature: String?, now: Date) -> Check {
        guard let pairing, let pairingID = UUID(uuidString: pairing), let expiresText = expires,
              let expires = Int64(expiresText), let signature, let mac = Data(base64URL: signature)
        else { return .invalid }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.message(pairingID, expires), using: key) else {
            return .invalid
        }
        return Double(expires) > now.timeIntervalSince1970 ? .valid(pairingID: pairingID) : .expired
    }

    private static func message(_ pairingID: UUID, _ expires: Int64) -> Data {
        Data("pairgate-link-v1\n\(pairingID.uuidString.lowercased())\n\(expires)".utf8)
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init?(base64URL text: String) {
        guard text.count <= 128 else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
