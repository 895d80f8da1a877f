import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One request and its answers with libpq's asynchronous calls, waiting in our own poll(2): the
/// wait has a deadline and an interruption, where PQexec would block for as long as the kernel
/// keeps a silent socket open.
extension PostgresConnection {
    /// Sends with `send` (a PQsend* call returning 1 on success), then collects every result:
    /// the rows of the last one, or the first error. Each result (one per statement of a script)
    /// must come within `timeout` of the previous one, like the server's statement_timeout,
    /// which also applies per statement.
    func roundTrip(timeout: Duration?, _ send: () -> Int32) throws -> PostgresRows {
        var deadline = answerDeadline(timeout)
        guard !abandoned else {
            throw PostgresError(.connectionLost, detail: "the connection was given up by an earlier timeout or interruption")
        }
        guard send() == 1 else { throw connectionError() }
        try flush(until: deadline, limit: timeout)
        var rows: PostgresRows?
        var failure: PostgresError?
        while let result = try nextResult(until: deadline, limit: timeout) {
            defer { PQclear(result) }
            deadline = answerDeadline(timeout)
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                rows = copyRows(result)
            case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
                // libpq would hand out the COPY state forever; nothing here speaks COPY.
                abandoned = true
                throw PostgresError(.invalidArgument, detail: "COPY is not supported by this client")
            default:
                if failure == nil { failure = resultError(result) }
            }
        }
        if let failure { throw failure }
        guard let rows else { throw connectionError() }
        return rows
    }

    /// When the next answer is due: `timeout` from now, or the caller's deadline if that comes first.
    private func answerDeadline(_ timeout: Duration?) -> ContinuousClock.Instant? {
        let own = timeout.map { ContinuousClock.now + $0 }
        guard let callDeadline else { return own }
        return own.map { min($0, callDeadline) } ?? callDeadline
    }

    /// Pushes the request out of libpq's buffer; a peer that stopped reading makes us wait here.
    private func flush(until deadline: ContinuousClock.Instant?, limit: Duration?) throws {
        while true {
            switch PQflush(handle) {
            case 0:
                return
            case 1:
                // libpq asks to read while waiting to write, or a server blocked on its own
                // output could deadlock with us.
                try waitForSocket(Int16(POLLIN | POLLOUT), until: deadline, limit: limit)
                try consumeInput()
            default:
                throw connectionError()
            }
        }
    }

    /// The next result once libpq has all of it, or nil when the request is answered in full.
    private func nextResult(until deadline: ContinuousClock.Instant?, limit: Duration?) throws -> OpaquePointer? {
        while PQisBusy(handle) == 1 {
            try waitForSocket(Int16(POLLIN), until: deadline, limit: limit)
            try consumeInput()
        }
        return PQgetResult(handle)
    }

    /// Reads what arrived; a failed read (reset, EOF, the kernel's keepalive or user timeout
    /// giving up) breaks the connection.
    private func consumeInput() throws {
        guard PQconsumeInput(handle) == 1 else {
            abandoned = true
            throw connectionError()
        }
    }

    /// Waits for the socket; past the deadline, or when interrupted, the connection is given up
    /// mid-request (the server's answer, if it ever comes, would belong to nobody).
    private func waitForSocket(_ events: Int16, until deadline: ContinuousClock.Instant?, limit: Duration?) throws {
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw connectionError() }
        let remaining = deadline.map { $0 - ContinuousClock.now }
        let outcome: WakePipe.Outcome = if let remaining, remaining <= .zero {
            .timedOut
        } else {
            wake.wait(socket: socket, events: events, timeout: remaining)
        }
        switch outcome {
        case .ready:
            return
        case .timedOut:
            abandoned = true
            if let callDeadline, deadline == callDeadline {
                throw PostgresError(.deadlineExceeded, detail: "PostgreSQL did not answer before the caller's deadline")
            }
            // A deadline implies its limit.
            throw PostgresError(.timedOut, detail: "PostgreSQL did not answer within \(limit ?? .zero)")
        case .woken:
            abandoned = true
            throw PostgresError(.poolClosed, detail: "interrupted while waiting for PostgreSQL: the pool is closing")
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

    func connectionError(_ message: String? = nil) -> PostgresError {
        let text = message ?? String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines
        return PostgresError(isBroken ? .connectionLost : .server, detail: text)
    }
}

/// Calls `body` with libpq's parameter arrays (values, lengths, formats: all binary); NULL
/// parameters are nil pointers.
func withParameters<R>(
    _ values: [PostgresValue],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>?, [Int32], [Int32]) -> R
) -> R {
    let lengths = values.map { Int32($0.bytes?.count ?? 0) }
    let formats = [Int32](repeating: 1, count: values.count)
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
    return pointers.withUnsafeBufferPointer { body($0.baseAddress, lengths, formats) }
}
