import Hummingbird
import PostgresClient
import PostgresStore

/// A refusal the API answers with a problem document; `code` is stable, `detail` is safe to show
/// to the caller (never a token, key or another tenant's data). `description` names only the
/// status and the code; the detail and where it was thrown are in `debugDescription`.
public struct APIError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The problem's `code`, stable across releases (docs/api.md lists them).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case validationFailed = "validation_failed"
            case unauthorized
            case adminDisabled = "admin_disabled"
            case unknownHost = "unknown_host"
            case linkExpired = "link_expired"
            case linkInvalid = "link_invalid"
            case tenantDisabled = "tenant_disabled"
            case unsupportedMediaType = "unsupported_media_type"
            case rateLimited = "rate_limited"
            case pairingInProgress = "pairing_in_progress"
            case deviceNotPairable = "device_not_pairable"
            case invalidHost = "invalid_host"
            case hostTaken = "host_taken"
            case invalidName = "invalid_name"
            case invalidCursor = "invalid_cursor"
            case tenantNotFound = "tenant_not_found"
            case hostNotFound = "host_not_found"
            case tokenNotFound = "token_not_found"
            case deviceNotFound = "device_not_found"
            case messageNotFound = "message_not_found"
            case pairingNotFound = "pairing_not_found"
            case noActivePairing = "no_active_pairing"
            case noQR = "no_qr"
            case qrEncodingFailed = "qr_encoding_failed"
            case shuttingDown = "shutting_down"
            case ownerUnreachable = "owner_unreachable"
            case requestTimeout = "request_timeout"
            case webhookNotFound = "webhook_not_found"
            case webhookLimitReached = "webhook_limit_reached"
            case webhookDisabled = "webhook_disabled"
            case eventNotFound = "event_not_found"
            case invalidURL = "invalid_url"
            case unsupportedScheme = "unsupported_scheme"
            case credentialsInURL = "credentials_in_url"
            case privateAddress = "private_address"
            case devicePairing = "device_pairing"
            case deviceInUse = "device_in_use"
            case overloaded
            case tooManyStreams = "too_many_streams"
            case databaseUnavailable = "database_unavailable"
            case deviceNotPaired = "device_not_paired"
            case invalidRecipient = "invalid_recipient"
            case textTooLong = "text_too_long"
            case idempotencyKeyReused = "idempotency_key_reused"
            case quotaExceeded = "quota_exceeded"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The body or a parameter breaks a rule; `detail` says which.
        public static let validationFailed = Code(.validationFailed)
        public static let unauthorized = Code(.unauthorized)
        /// No `admin.token` is configured.
        public static let adminDisabled = Code(.adminDisabled)
        /// No tenant is bound to the request's Host.
        public static let unknownHost = Code(.unknownHost)
        public static let linkExpired = Code(.linkExpired)
        public static let linkInvalid = Code(.linkInvalid)
        public static let tenantDisabled = Code(.tenantDisabled)
        public static let unsupportedMediaType = Code(.unsupportedMediaType)
        public static let rateLimited = Code(.rateLimited)
        /// The tenant's one pairing is running; the problem names it.
        public static let pairingInProgress = Code(.pairingInProgress)
        public static let deviceNotPairable = Code(.deviceNotPairable)
        public static let invalidHost = Code(.invalidHost)
        public static let hostTaken = Code(.hostTaken)
        public static let invalidName = Code(.invalidName)
        public static let invalidCursor = Code(.invalidCursor)
        public static let tenantNotFound = Code(.tenantNotFound)
        public static let hostNotFound = Code(.hostNotFound)
        public static let tokenNotFound = Code(.tokenNotFound)
        public static let deviceNotFound = Code(.deviceNotFound)
        /// No stored message of the tenant has this id.
        public static let messageNotFound = Code(.messageNotFound)
        public static let pairingNotFound = Code(.pairingNotFound)
        public static let noActivePairing = Code(.noActivePairing)
        public static let noQR = Code(.noQR)
        public static let qrEncodingFailed = Code(.qrEncodingFailed)
        public static let shuttingDown = Code(.shuttingDown)
        /// The instance running the device did not answer a routed request in time.
        public static let ownerUnreachable = Code(.ownerUnreachable)
        public static let requestTimeout = Code(.requestTimeout)
        /// No webhook endpoint of this tenant has the id.
        public static let webhookNotFound = Code(.webhookNotFound)
        /// The tenant has `webhooks.max_endpoints_per_tenant` endpoints already.
        public static let webhookLimitReached = Code(.webhookLimitReached)
        /// The endpoint is disabled; enable it (PATCH) before replaying to it.
        public static let webhookDisabled = Code(.webhookDisabled)
        /// No event of this tenant has the id (or retention removed it).
        public static let eventNotFound = Code(.eventNotFound)
        /// A webhook URL is not an absolute http(s) URL we can send to.
        public static let invalidURL = Code(.invalidURL)
        public static let unsupportedScheme = Code(.unsupportedScheme)
        public static let credentialsInURL = Code(.credentialsInURL)
        /// A webhook URL's host is a loopback, private, link-local, metadata or reserved address.
        public static let privateAddress = Code(.privateAddress)
        /// The device's pairing is running: it cannot be stopped (a reset cancels the pairing).
        public static let devicePairing = Code(.devicePairing)
        /// The device was paired, or a pairing of it started, while it was being deleted.
        public static let deviceInUse = Code(.deviceInUse)
        /// Too many requests are being authenticated at once (lookups of unknown hosts or tokens).
        public static let overloaded = Code(.overloaded)
        /// An event stream beyond the caps per pairing, per tenant or per instance.
        public static let tooManyStreams = Code(.tooManyStreams)
        /// PostgreSQL cannot be reached or did not answer in time; retry later.
        public static let databaseUnavailable = Code(.databaseUnavailable)
        /// POST /messages: the device has no account to send from (unpaired, pairing or logged out).
        public static let deviceNotPaired = Code(.deviceNotPaired)
        /// POST /messages: `to` is neither an international number nor a user JID.
        public static let invalidRecipient = Code(.invalidRecipient)
        /// POST /messages: the text is empty or over WhatsApp's 65,536 characters.
        public static let textTooLong = Code(.textTooLong)
        /// The `Idempotency-Key` was used before with a different request.
        public static let idempotencyKeyReused = Code(.idempotencyKeyReused)
        /// POST /messages: the tenant queued `messages.tenant_daily_quota` messages in the last 24 hours.
        public static let quotaExceeded = Code(.quotaExceeded)

        public var description: String { base.rawValue }
    }

    public var status: HTTPResponse.Status
    public var code: Code
    public var title: String
    public var detail: String?
    public var headers: HTTPFields
    public var activePairing: ActivePairing?
    public var file: String
    public var line: Int

    public init(
        _ status: HTTPResponse.Status, _ code: Code, _ title: String, detail: String? = nil,
        headers: HTTPFields = [:], activePairing: ActivePairing? = nil, file: String = #fileID, line: Int = #line
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers
        self.activePairing = activePairing
        self.file = file
        self.line = line
    }

    public var problem: Problem {
        Problem(status: status, code: code.description, title: title, detail: detail, activePairing: activePairing)
    }

    public var description: String { "\(status.code) \(code)" }

    public var debugDescription: String {
        description + (detail.map { ": \($0)" } ?? "") + " [\(file):\(line)]"
    }

    static func notFound(_ code: Code, _ title: String) -> APIError {
        APIError(.notFound, code, title)
    }

    static func invalid(_ detail: String) -> APIError {
        APIError(.unprocessableContent, .validationFailed, "The request is not valid", detail: detail)
    }

    static let unauthorized = APIError(
        .unauthorized, .unauthorized, "Missing or invalid credentials",
        detail: "send Authorization: Bearer <token>", headers: [.wwwAuthenticate: #"Bearer realm="pairgate""#]
    )

    static let shuttingDown = APIError(.serviceUnavailable, .shuttingDown, "The gateway is shutting down", headers: [.retryAfter: "5"])

    static func requestTimeout(_ limit: Duration) -> APIError {
        APIError(.serviceUnavailable, .requestTimeout, "The request took too long",
                 detail: "the gateway gives up after \(limit)", headers: [.retryAfter: "1"])
    }

    /// How a failure to reach PostgreSQL is answered, or nil for an error that is not one (a
    /// constraint, a decoding bug: those stay 500). Never detailed: libpq's words name hosts and users.
    init?(unavailable error: PostgresError) {
        switch error.code {
        case .connectionFailed, .connectionLost, .timedOut, .poolTimeout, .queryCanceled:
            self.init(.serviceUnavailable, .databaseUnavailable, "The database is unavailable",
                      detail: "try again in a moment", headers: [.retryAfter: "5"])
        case .deadlineExceeded:
            self.init(.serviceUnavailable, .requestTimeout, "The request took too long", headers: [.retryAfter: "1"])
        case .poolClosed:
            self = .shuttingDown
        default:
            return nil
        }
    }

    /// The store refused the caller's input: 409 for a host already taken or a device that
    /// cannot be paired, 422 for anything malformed.
    init(_ refusal: StoreError) {
        switch refusal.code {
        case .hostTaken:
            self.init(.conflict, .hostTaken, "The host already belongs to a tenant", detail: refusal.message)
        case .deviceNotPairable:
            self.init(.conflict, .deviceNotPairable, "This device cannot be paired now",
                      detail: "device_id must name an unpaired or logged-out device of this tenant that no instance holds")
        case .invalidHost:
            self.init(.unprocessableContent, .invalidHost, "The request is not valid", detail: refusal.message)
        case .invalidName:
            self.init(.unprocessableContent, .invalidName, "The request is not valid", detail: refusal.message)
        default:
            self.init(.unprocessableContent, .validationFailed, "The request is not valid", detail: refusal.message)
        }
    }
}
