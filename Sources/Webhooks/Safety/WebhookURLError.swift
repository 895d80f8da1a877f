/// Why a webhook URL is refused, at registration or at delivery. `code` is the stable `code` of
/// the API's problem+json; the description never repeats the URL, whose query may hold a token.
public struct WebhookURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable identifier for the kind of refusal.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case invalidURL = "invalid_url"
            case unsupportedScheme = "unsupported_scheme"
            case credentialsInURL = "credentials_in_url"
            case privateAddress = "private_address"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// Not an absolute http(s) URL we can send to: syntax, host, port, length, a fragment.
        public static let invalidURL = Code(.invalidURL)
        /// A scheme other than http and https.
        public static let unsupportedScheme = Code(.unsupportedScheme)
        /// `user:password@` in the URL; receivers authenticate us by the signature instead.
        public static let credentialsInURL = Code(.credentialsInURL)
        /// The host is, or resolves to, an address the policy refuses (see `category`).
        public static let privateAddress = Code(.privateAddress)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What is wrong, in words a tenant can act on; never quotes the URL.
    public var reason: String
    /// For `privateAddress`: the refused range.
    public var category: AddressPolicy.Category?

    public init(_ code: Code, _ reason: String, category: AddressPolicy.Category? = nil) {
        self.code = code
        self.reason = reason
        self.category = category
    }

    public var description: String {
        "WebhookURLError(\(code): \(reason)\(category.map { ", \($0.rawValue)" } ?? ""))"
    }
}
