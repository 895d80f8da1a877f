import WAWire

/// Names one API call on a connection; the caller picks it and gets it back in `ClientSessionMachine.Action.complete`.
public struct ClientRequestID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    public var description: String { "request \(rawValue)" }
}

/// What an API caller asks a connection to do.
public enum ClientRequest: Sendable {
    /// Remove this companion from its account (remove-companion-device); on success the connection
    /// ends with `.loggedOut`.
    case logout
    /// Send an IQ and wait for its answer. The machine sets `id`, and `to` when absent; `timeout`
    /// defaults to the configured request timeout.
    case iq(Node, timeout: Duration?)
    /// Write these stanzas as they are, in order (answers to `ClientEvent.stanza`: receipts, acks);
    /// completed with `Action.sent` once they are written. Nothing is written when one cannot be
    /// encoded (`invalidRequest`).
    case send([Node])
}

/// Why an API call did not get a result.
public struct ClientRequestError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code, safe to log and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case notConnected = "not_connected"
            case timedOut = "timed_out"
            case connectionClosed = "connection_closed"
            case errorResponse = "error_response"
            case invalidRequest = "invalid_request"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The connection is not at a point where it can send this (handshaking, pairing, or not paired).
        public static let notConnected = Code(.notConnected)
        /// No answer within the request's timeout.
        public static let timedOut = Code(.timedOut)
        /// The connection ended before the answer came.
        public static let connectionClosed = Code(.connectionClosed)
        /// The server answered `type="error"`; `errorCode` and `text` come from its `<error>` child.
        public static let errorResponse = Code(.errorResponse)
        /// The node could not be encoded.
        public static let invalidRequest = Code(.invalidRequest)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// The `<error code>` of an error response.
    public let errorCode: Int?
    /// The `<error text>` of an error response.
    public let text: String?

    public init(_ code: Code, errorCode: Int? = nil, text: String? = nil) {
        self.code = code
        self.errorCode = errorCode
        self.text = text
    }

    public var description: String {
        var text = "ClientRequestError(\(code)"
        if let errorCode { text += " \(errorCode)" }
        if let detail = self.text { text += " \(detail)" }
        return text + ")"
    }
}
