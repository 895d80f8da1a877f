import Foundation

/// Why a connection to the upstream ended, classified so that an operator sees where it failed
/// (`stage`) and the device pool can decide what to do next (`category`).
public struct DisconnectReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Where in the life of a connection it failed.
    public enum Stage: String, Sendable, Hashable, Codable, CaseIterable {
        /// Resolving the upstream's (or the proxy's) host name.
        case dns
        /// Opening the TCP connection.
        case tcp
        /// The HTTP CONNECT or SOCKS5 exchange with a proxy.
        case proxy
        /// The TLS handshake.
        case tls
        /// The WebSocket upgrade (`code` is the HTTP status when there was one).
        case websocket
        /// The Noise handshake (bad frames, decryption failures, timeouts waiting for ServerHello).
        case noise
        /// The server's certificate chain failed verification.
        case certificate
        /// The first stanza after login: `<failure reason=…>` (`code` is the reason).
        case login
        /// While connected: `<stream:error>` (`code` when present) or the socket closing.
        case stream
        /// Keepalive pings went unanswered for too long.
        case keepalive
        /// The pairing flow ended (refs exhausted, verification failed).
        case pairing
        /// We closed it ourselves (shutdown, reset, lease lost).
        case local
    }

    /// What kind of ending it is; the device pool's reconnect policy is keyed by this.
    public enum Category: String, Sendable, Hashable, Codable, CaseIterable {
        /// DNS, TCP, TLS, proxy or WebSocket trouble, or a socket that closed unexpectedly.
        case network
        /// A connect, handshake or request timeout.
        case timeout
        /// Server errors 500 and 503 (failure or stream:error), and HTTP 5xx on upgrade.
        case serverError = "server_error"
        /// stream:error 515: reconnect at once (always after pairing).
        case restartRequired = "restart_required"
        /// failure 405: this WhatsApp Web version is too old.
        case clientOutdated = "client_outdated"
        /// stream:error conflict `replaced`: another client uses this device's keys.
        case replaced
        /// failure 401/403/406, stream:error conflict device_removed, or unlinked: credentials are dead.
        case loggedOut = "logged_out"
        /// The server refused us in a way that is neither known to pass nor known to be final: a
        /// `<failure>` with a reason we do not know (400, 409, 415, 418, 501, …), stream:error 401
        /// without `device_removed`, or 516. Suspended rather than retried or wiped.
        case refused
        /// failure 402: temporarily banned until `banExpiresAt`.
        case temporaryBan = "temporary_ban"
        /// No keepalive answer for the maximum failure time.
        case keepaliveLost = "keepalive_lost"
        /// All QR refs (or the code pairing window) ran out without a scan.
        case pairingTimeout = "pairing_timeout"
        /// pair-success failed verification, or persisting it failed.
        case pairingFailed = "pairing_failed"
        /// The peer sent something the protocol does not allow.
        case protocolViolation = "protocol_violation"
        /// stream:error with `<ack>`: the server refused an ack or receipt of ours, or found a stanza
        /// left unanswered (messaging.md §3.4).
        case ackRejected = "ack_rejected"
        /// The server's certificate chain is not trusted.
        case certificateRejected = "certificate_rejected"
        /// We closed the connection on purpose.
        case shutdown
        /// Any other failure or stream:error code.
        case other
    }

    public var stage: Stage
    public var category: Category
    /// HTTP status (websocket stage), failure reason, or stream:error code.
    public var code: Int?
    /// A short human explanation, safe to show (never key material, never tokens).
    public var detail: String
    /// For `temporaryBan`: when the ban ends.
    public var banExpiresAt: Date?

    public init(stage: Stage, category: Category, code: Int? = nil, detail: String, banExpiresAt: Date? = nil) {
        self.stage = stage
        self.category = category
        self.code = code
        self.detail = detail
        self.banExpiresAt = banExpiresAt
    }

    public var description: String {
        var text = "\(stage.rawValue)/\(category.rawValue)"
        if let code { text += " \(code)" }
        return text + ": \(detail)"
    }
}
