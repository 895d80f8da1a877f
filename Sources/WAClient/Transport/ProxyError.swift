/// Why a proxy did not open the tunnel; `detail` is safe to show (never the password).
public struct ProxyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code, safe to log and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case malformedResponse = "malformed_response"
            case authenticationRequired = "authentication_required"
            case authenticationFailed = "authentication_failed"
            case tunnelRefused = "tunnel_refused"
            case invalidRequest = "invalid_request"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The proxy answered something that is not HTTP or SOCKS5, or more than we are willing to buffer.
        public static let malformedResponse = Code(.malformedResponse)
        /// The proxy wants credentials we did not give (HTTP 407, or no acceptable SOCKS method).
        public static let authenticationRequired = Code(.authenticationRequired)
        /// The proxy refused the credentials.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The proxy would not connect to the upstream (an HTTP status, or a SOCKS reply code).
        public static let tunnelRefused = Code(.tunnelRefused)
        /// The target host or the credentials do not fit the protocol's length fields.
        public static let invalidRequest = Code(.invalidRequest)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// The HTTP status or the SOCKS reply/status byte, when the proxy sent one.
    public let status: Int?
    public let detail: String

    public init(_ code: Code, status: Int? = nil, detail: String) {
        self.code = code
        self.status = status
        self.detail = detail
    }

    public var description: String {
        "ProxyError(\(code)\(status.map { " \($0)" } ?? ""): \(detail))"
    }
}
