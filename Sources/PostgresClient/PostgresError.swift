/// A failure talking to PostgreSQL. `description` names the kind, SQLSTATE and constraint only —
/// never parameters, values or the server's message, which can quote user data; those are in
/// `debugDescription` for local debugging.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionFailed = "connection_failed"
            case connectionLost = "connection_lost"
            case poolTimeout = "pool_timeout"
            case poolClosed = "pool_closed"
            case timedOut = "timed_out"
            case deadlineExceeded = "deadline_exceeded"
            case server = "server"
            case uniqueViolation = "unique_violation"
            case foreignKeyViolation = "foreign_key_violation"
            case checkViolation = "check_violation"
            case notNullViolation = "not_null_violation"
            case exclusionViolation = "exclusion_violation"
            case serializationFailure = "serialization_failure"
            case deadlockDetected = "deadlock_detected"
            case queryCanceled = "query_canceled"
            case lockNotAvailable = "lock_not_available"
            case undefinedTable = "undefined_table"
            case decoding = "decoding"
            case invalidArgument = "invalid_argument"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No connection could be opened (refused, DNS, authentication, timeout).
        public static let connectionFailed = Code(.connectionFailed)
        /// An open connection broke; it was discarded. Whether a statement in flight ran is unknown.
        public static let connectionLost = Code(.connectionLost)
        /// No pooled connection became free in time.
        public static let poolTimeout = Code(.poolTimeout)
        /// The pool was shut down: new work is refused, and a call still waiting for the server
        /// when `close`'s grace period ended was interrupted (whether its statement ran is unknown).
        public static let poolClosed = Code(.poolClosed)
        /// The server did not answer within the client's response timeout (a partition, a hung
        /// server or proxy); the connection was discarded. Whether the statement ran is unknown.
        public static let timedOut = Code(.timedOut)
        /// The caller's `PostgresDeadline` passed while it waited for a connection or for the server;
        /// a connection given up mid-statement was discarded (whether the statement ran is unknown).
        /// It says nothing about the server's health: the idle connections stay.
        public static let deadlineExceeded = Code(.deadlineExceeded)
        /// Any server error without a more specific code; see `sqlState`.
        public static let server = Code(.server)
        public static let uniqueViolation = Code(.uniqueViolation)
        public static let foreignKeyViolation = Code(.foreignKeyViolation)
        public static let checkViolation = Code(.checkViolation)
        public static let notNullViolation = Code(.notNullViolation)
        public static let exclusionViolation = Code(.exclusionViolation)
        public static let serializationFailure = Code(.serializationFailure)
        public static let deadlockDetected = Code(.deadlockDetected)
        public static let queryCanceled = Code(.queryCanceled)
        public static let lockNotAvailable = Code(.lockNotAvailable)
        public static let undefinedTable = Code(.undefinedTable)
        /// A column could not be decoded into the requested Swift type.
        public static let decoding = Code(.decoding)
        /// The caller passed something PostgreSQL cannot take (e.g. a NUL byte in text).
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { base.rawValue }

        /// The code for a five-character SQLSTATE.
        static func forSQLState(_ state: String) -> Code {
            switch state {
            case "23505": .uniqueViolation
            case "23503": .foreignKeyViolation
            case "23514": .checkViolation
            case "23502": .notNullViolation
            case "23P01": .exclusionViolation
            case "40001": .serializationFailure
            case "40P01": .deadlockDetected
            case "57014": .queryCanceled
            case "55P03": .lockNotAvailable
            case "42P01": .undefinedTable
            // admin_shutdown, crash_shutdown, cannot_connect_now: the backend is gone.
            case "57P01", "57P02", "57P03": .connectionLost
            default: state.hasPrefix("08") ? .connectionLost : .server
            }
        }
    }

    public var code: Code
    /// The SQLSTATE the server reported, when there was one.
    public var sqlState: String?
    /// The violated constraint's name, for integrity errors.
    public var constraint: String?
    /// The server's or libpq's own words; may quote data, so only in `debugDescription`.
    var detail: String?
    public var file: String
    public var line: Int

    public init(
        _ code: Code,
        sqlState: String? = nil,
        constraint: String? = nil,
        detail: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.sqlState = sqlState
        self.constraint = constraint
        self.detail = detail
        self.file = file
        self.line = line
    }

    public var description: String {
        var text = "PostgreSQL error: \(code)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let constraint { text += " on constraint \(constraint)" }
        // libpq's own connection messages name host, port and user but never the password, and
        // an operator needs them ("connection refused", "password authentication failed").
        if sqlState == nil, code == .connectionFailed || code == .connectionLost || code == .timedOut, let detail {
            text += ": \(detail)"
        }
        return text
    }

    public var debugDescription: String {
        var text = description
        if let detail { text += ": \(detail)" }
        return text + " [\(file):\(line)]"
    }

    /// Whether the connection that produced this error must not be reused.
    var breaksConnection: Bool { code == .connectionLost || code == .connectionFailed || code == .timedOut }
}
