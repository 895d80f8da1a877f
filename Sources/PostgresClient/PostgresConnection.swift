import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection. Every method blocks its thread, so the pool calls them only from its
/// dedicated `NIOThreadPool`; one caller at a time owns a connection (enforced by the pool).
public final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private var finished = false

    private init(handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        if !finished { PQfinish(handle) }
    }

    /// Closes the connection (sends Terminate); the object must not be used afterwards.
    public func close() {
        guard !finished else { return }
        finished = true
        PQfinish(handle)
    }

    /// Opens a connection; blocks for at most the configured connect timeout.
    public static func connect(_ configuration: PostgresConfiguration) throws -> PostgresConnection {
        var keywords = ["dbname", "connect_timeout", "fallback_application_name"]
        var values = [
            configuration.url,
            String(max(2, Int(configuration.connectTimeout.components.seconds))),
            configuration.applicationName,
        ]
        if let timeout = configuration.statementTimeout {
            let millis = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
            keywords.append("options")
            values.append("-c statement_timeout=\(millis)")
        }
        let connection: OpaquePointer? = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
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
        return PostgresConnection(handle: connection)
    }

    /// Whether libpq considers the connection dead; a dead connection is never reused.
    public var isBroken: Bool { PQstatus(handle) != CONNECTION_OK }

    /// Checks an idle connection without a round trip. A pooled connection LISTENs on nothing, so
    /// an idle backend has nothing to say: a readable socket means it said goodbye (a restart sends
    /// FATAL 57P01, then closes). Rare harmless messages (a ParameterStatus after a reload) only
    /// cost a reconnect.
    func isDeadWhileIdle() -> Bool {
        if isBroken { return true }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    /// Runs one parameterized statement with every parameter and every result column in binary.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> PostgresRows {
        let values = parameters.map(\.postgresValue)
        let types = values.map(\.oid)
        let lengths = values.map { Int32($0.bytes?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: values.count)
        let result: OpaquePointer? = withParameterPointers(values) { pointers in
            PQexecParams(handle, sql, Int32(values.count), types, pointers, lengths, formats, 1)
        }
        return try consume(result)
    }

    /// Runs a script of one or more statements without parameters (migrations, LISTEN).
    public func execute(script: String) throws {
        _ = try consume(PQexec(handle, script))
    }

    /// Turns a libpq result into rows or a typed error, always freeing it.
    private func consume(_ result: OpaquePointer?) throws -> PostgresRows {
        guard let result else {
            throw connectionError()
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return copyRows(result)
        default:
            throw resultError(result)
        }
    }

    private func copyRows(_ result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [PostgresColumn] = []
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            columns.append(PostgresColumn(
                name: PQfname(result, Int32(column)).map { String(cString: $0) } ?? "",
                oid: PQftype(result, Int32(column))
            ))
        }
        var storage: [UInt8] = []
        var cells: [Range<Int>?] = []
        cells.reserveCapacity(rowCount * columnCount)
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    cells.append(nil)
                    continue
                }
                let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                let start = storage.count
                if length > 0, let value = PQgetvalue(result, Int32(row), Int32(column)) {
                    value.withMemoryRebound(to: UInt8.self, capacity: length) { pointer in
                        storage.append(contentsOf: UnsafeBufferPointer(start: pointer, count: length))
                    }
                }
                cells.append(start..<storage.count)
            }
        }
        let affected = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? rowCount
        return PostgresRows(columns: columns, affectedRows: affected, storage: storage, cells: cells)
    }

    private func resultError(_ result: OpaquePointer) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let message = field(UInt8(ascii: "M")) ?? String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines
        guard let state = field(UInt8(ascii: "C")) else {
            return connectionError(message)
        }
        return PostgresError(
            PostgresError.Code.forSQLState(state),
            sqlState: state,
            constraint: field(UInt8(ascii: "n")),
            detail: message
        )
    }

    private func connectionError(_ message: String? = nil) -> PostgresError {
        let text = message ?? String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines
        return PostgresError(isBroken ? .connectionLost : .server, detail: text)
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

/// Calls `body` with libpq's parameter value array; NULL parameters are nil pointers.
private func withParameterPointers<R>(
    _ values: [PostgresValue],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R
) -> R {
    // Copy every parameter into one buffer so the pointers stay valid for the whole call.
    let total = values.reduce(0) { $0 + ($1.bytes?.count ?? 0) }
    let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(total, 1))
    defer { buffer.deallocate() }
    var pointers: [UnsafePointer<CChar>?] = []
    pointers.reserveCapacity(values.count)
    var offset = 0
    for value in values {
        guard let bytes = value.bytes else {
            pointers.append(nil)
            continue
        }
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress, raw.count > 0 {
                (buffer + offset).withMemoryRebound(to: UInt8.self, capacity: raw.count) {
                    $0.update(from: base.assumingMemoryBound(to: UInt8.self), count: raw.count)
                }
            }
        }
        pointers.append(UnsafePointer(buffer + offset))
        offset += bytes.count
    }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
