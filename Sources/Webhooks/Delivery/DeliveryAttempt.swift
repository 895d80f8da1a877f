/// What one attempt to deliver an event to an endpoint came to: the input of `DeliveryPolicy`
/// and a row of the endpoint's delivery log.
public struct DeliveryAttempt: Sendable, Hashable {
    public enum Result: Sendable, Hashable {
        /// The receiver answered (any status; redirects are answers, never followed).
        case response(status: Int, retryAfter: RetryAfter?)
        /// No complete answer within the connect or response timeout.
        case timeout
        /// DNS, connect, TLS or the connection failed; `detail` says which, without the URL.
        case networkError(detail: String)
        /// Not sent: the URL or an address its host resolved to is refused.
        case refused(WebhookURLError)
    }

    public var result: Result
    /// From the start of the attempt (DNS included) to its end.
    public var duration: Duration
    /// The first bytes of the response body, at most the configured cap.
    public var responseBody: [UInt8]
    /// The body was longer than the cap; the rest was not read and the connection was closed.
    public var responseTruncated: Bool
    /// The address the request went to, when one was chosen.
    public var address: IPAddress?

    public init(result: Result, duration: Duration, responseBody: [UInt8] = [], responseTruncated: Bool = false, address: IPAddress? = nil) {
        self.result = result
        self.duration = duration
        self.responseBody = responseBody
        self.responseTruncated = responseTruncated
        self.address = address
    }

    /// 2xx: the receiver took the event.
    public var isSuccess: Bool {
        if case .response(let status, _) = result { return (200...299).contains(status) }
        return false
    }

    /// A short, stable name for logs, metrics and `endpoint.disabled`: `http_503`, `timeout`,
    /// `network_error`, or the refusal's code (`private_address`).
    public var summary: String {
        switch result {
        case .response(let status, _): "http_\(status)"
        case .timeout: "timeout"
        case .networkError: "network_error"
        case .refused(let error): error.code.description
        }
    }
}
