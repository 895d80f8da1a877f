import CLibPQ
import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection. Every method blocks its thread, so the pool calls them only from its
/// dedicated `NIOThreadPool`; one caller at a time owns a connection (enforced by the pool).
/// Every wait for the server is bounded by the response timeout and can be interrupted from
/// another thread (`interrupt()`); a connection whose wait ended either way is broken for good.
public final class PostgresConnection: @unchecked Sendable {
    let handle: OpaquePointer
    /// Interrupts the connection's waits; shared with a listener that stops them all at once.
    let wake: WakePipe
    /// The client's limit for each answer; nil waits as long as the kernel keeps the socket.
    let responseTimeout: Duration?
    /// Named prepared statements on this connection, by SQL text and parameter types.
    private var statements: [StatementKey: String] = [:]
    /// Names the server still holds for statements that must be prepared anew (their result type
    /// changed): deallocated before that, since a failing PREPARE would abort a transaction.
    private var outdated: Set<String> = []
    private let statementCacheSize: Int
    private var finished = false
    /// A wait was abandoned midway (deadline, interruption): what the server sends next is unknown.
    var abandoned = false
    /// The caller's `PostgresDeadline` for the call running now (set by the pool around it): no
    /// wait for the server goes past it, whatever the response timeout.
    var callDeadline: ContinuousClock.Instant?

    private init(handle: OpaquePointer, wake: WakePipe, configuration: PostgresConfiguration) {
        self.handle = handle
        self.wake = wake
        self.responseTimeout = configuration.effectiveResponseTimeout
        self.statementCacheSize = max(0, configuration.preparedStatementCacheSize)
    }

    deinit {
        if !finished { PQfinish(handle) }
    }

    /// Closes the connection (sends Terminate without waiting); the object must not be used afterwards.
    public func close() {
        guard !finished else { return }
        finished = true
        PQfinish(handle)
    }

    /// Opens a connection; blocks for at most the configured connect timeout (per address).
    public static func connect(_ configuration: PostgresConfiguration) throws -> PostgresConnection {
        try connect(configuration, wake: WakePipe())
    }

    /// Opens a connection whose waits `wake` interrupts.
    static func connect(_ configuration: PostgresConfiguration, wake: WakePipe) throws -> PostgresConnection {
        let parameters = configuration.connectionParameters
        let connection: OpaquePointer? = withCStrings(parameters.map(\.keyword)) { keywordPointers in
            withCStrings(parameters.map(\.value)) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(.connectionFailed, detail: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(.connectionFailed, detail: message.trimmingTrailingNewlines)
        }
        // libpq prints NOTICEs to stderr by default ("relation already exists, skipping"); they are
        // not errors and would only clutter the gateway's output.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // Sending never blocks either: a full socket buffer (a peer that stopped reading) waits in
        // our poll, under the deadline, instead of inside libpq.
        guard PQsetnonblocking(connection, 1) == 0 else {
            PQfinish(connection)
            throw PostgresError(.connectionFailed, detail: "libpq refused non-blocking mode")
        }
        return PostgresConnection(handle: connection, wake: wake, configuration: configuration)
    }

    /// Whether the connection is dead or was given up; such a connection is never reused.
    public var isBroken: Bool { abandoned || PQstatus(handle) != CONNECTION_OK }

    /// Ends the wait of a call running on this connection at once, from any thread: that call
    /// throws `poolClosed`, and the connection is broken for good. Used by `PostgresPool.close`.
    func interrupt() {
        wake.signal()
    }

    /// Checks an idle connection without a round trip. A pooled connection LISTENs on nothing, so
    /// an idle backend has nothing to say: a readable socket means it said goodbye (a restart sends
    /// FATAL 57P01, then closes) or the kernel gave up on the peer (keepalives). Rare harmless
    /// messages (a ParameterStatus after a reload) only cost a reconnect.
    func isDeadWhileIdle() -> Bool {
        if isBroken { return true }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    // MARK: Statements

    /// Runs one parameterized statement with every parameter and every result column in binary,
    /// as a named prepared statement of this connection (prepared on its first use here).
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> PostgresRows {
        let values = parameters.map(\.postgresValue)
        guard statementCacheSize > 0 else {
            return try roundTrip(timeout: responseTimeout) {
                withParameters(values) { pointers, lengths, formats in
                    PQsendQueryParams(handle, sql, Int32(values.count), values.map(\.oid), pointers, lengths, formats, 1)
                }
            }
        }
        let key = StatementKey(sql: sql, types: values.map(\.oid))
        var retried = false
        while true {
            let name = try prepare(key)
            do {
                return try roundTrip(timeout: responseTimeout) {
                    withParameters(values) { pointers, lengths, formats in
                        PQsendQueryPrepared(handle, name, Int32(values.count), pointers, lengths, formats, 1)
                    }
                }
            } catch let error as PostgresError where error.outdatesPreparedStatement {
                // Deallocated behind our back (26000), or a schema change altered its result type
                // (0A000, and the server still holds it). It failed before running, so outside a
                // transaction nothing is lost by preparing it again, once; inside one, the next
                // use after the rollback does.
                statements[key] = nil
                if error.sqlState == "0A000" { outdated.insert(name) }
                guard !retried, PQtransactionStatus(handle) == PQTRANS_IDLE else { throw error }
                retried = true
            }
        }
    }

    /// Runs a script of one or more statements without parameters (migrations, LISTEN, BEGIN).
    public func execute(script: String) throws {
        try execute(script: script, timeout: responseTimeout)
    }

    /// `execute` with its own limit for each of the server's answers.
    func execute(script: String, timeout: Duration?) throws {
        _ = try roundTrip(timeout: timeout) { PQsendQuery(handle, script) }
    }

    /// The statement's name on this connection, preparing it first when needed.
    private func prepare(_ key: StatementKey) throws -> String {
        if let name = statements[key] { return name }
        if statements.count >= statementCacheSize {
            // A bounded cache: statements built at run time must not grow a backend forever.
            // Should DEALLOCATE fail, the cache still matches the server and the next call tries
            // again (a broken connection is discarded anyway).
            try execute(script: "DEALLOCATE ALL", timeout: responseTimeout)
            statements.removeAll()
            outdated.removeAll()
        }
        let name = key.name
        if outdated.contains(name) {
            try execute(script: "DEALLOCATE \(name)", timeout: responseTimeout)
            outdated.remove(name)
        }
        do {
            _ = try roundTrip(timeout: responseTimeout) {
                PQsendPrepare(handle, name, key.sql, Int32(key.types.count), key.types)
            }
        } catch let error as PostgresError where error.sqlState == "42P05" {
            // duplicate_prepared_statement: someone else used our name (a PREPARE in SQL). It
            // cannot be replaced now without aborting a transaction; the next use does it.
            outdated.insert(name)
            throw error
        }
        statements[key] = name
        return name
    }

    // MARK: LISTEN/NOTIFY support

    /// The connection's socket, for poll(2).
    var socket: Int32 { PQsocket(handle) }

    /// Reads whatever arrived on the socket and returns the notifications it completed.
    func consumeNotifications() throws -> [PostgresNotification] {
        guard PQconsumeInput(handle) == 1 else { throw connectionError() }
        var notifications: [PostgresNotification] = []
        while let pointer = PQnotifies(handle) {
            let notify = pointer.pointee
            notifications.append(PostgresNotification(
                channel: String(cString: notify.relname),
                payload: String(cString: notify.extra),
                processID: notify.be_pid
            ))
            PQfreemem(pointer)
        }
        return notifications
    }
}

/// A prepared statement's identity: the same SQL with other parameter types is another
/// statement, because the server fixes the types at prepare time and reads binary values by them.
struct StatementKey: Hashable {
    var sql: String
    var types: [UInt32]

    /// Stable across connections and processes, so pg_prepared_statements shows the same name
    /// for the same statement everywhere.
    var name: String {
        let text = sql + "\u{0}" + types.map(String.init).joined(separator: ",")
        return "pgs_" + SHA256.hash(data: Array(text.utf8)).prefix(12).map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
    }
}

extension PostgresError {
    /// invalid_sql_statement_name (someone ran DEALLOCATE) or feature_not_supported ("cached plan
    /// must not change result type", after a schema change) on a prepared statement.
    var outdatesPreparedStatement: Bool { sqlState == "26000" || sqlState == "0A000" }
}

extension String {
    var trimmingTrailingNewlines: String {
        var text = self
        while text.last?.isNewline == true { text.removeLast() }
        return text
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the call.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var owned: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { owned.forEach { free($0) } }
    owned.append(nil)
    return owned.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
    }
}
