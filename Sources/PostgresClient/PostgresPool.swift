import Logging
import NIOPosix
import Synchronization

/// A pool of libpq connections whose blocking calls all run on a dedicated `NIOThreadPool`,
/// never on Swift's cooperative pool. Dead connections are replaced, never reused.
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let state: Mutex<PoolState>

    /// `threadPool` must be started; give it at least `maximumConnections` threads so that every
    /// connection can block at once without queueing behind another.
    public init(configuration: PostgresConfiguration, threadPool: NIOThreadPool, logger: Logger) {
        self.configuration = configuration
        self.threadPool = threadPool
        self.logger = logger
        self.state = Mutex(PoolState(maximumConnections: configuration.maximumConnections))
    }

    /// Runs `body` with a connection of its own, on the pool's thread. Under a `PostgresDeadline`,
    /// waiting for the connection and for each of the server's answers ends at the deadline.
    /// Cancelling the calling task interrupts the call's wait for the server (it throws
    /// `CancellationError`), and the connection is given up rather than reused: what the server
    /// sends next would belong to nobody. Without this a blocking call outlives any deadline its
    /// caller has.
    public func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let deadline = PostgresDeadline.current
        let connection = try await checkOut(deadline: deadline)
        let interrupted = Mutex(false)
        do {
            let result = try await withTaskCancellationHandler {
                try await run {
                    connection.callDeadline = deadline
                    defer { connection.callDeadline = nil }
                    return try body(connection)
                }
            } onCancel: {
                interrupted.withLock { $0 = true }
                connection.interrupt()
            }
            if interrupted.withLock({ $0 }) {
                releaseSlot(closing: connection)
            } else {
                checkIn(connection)
            }
            return result
        } catch {
            if interrupted.withLock({ $0 }) {
                releaseSlot(closing: connection)
                if let error = error as? PostgresError, error.code == .poolClosed { throw CancellationError() }
                throw error
            }
            checkIn(connection)
            if let error = error as? PostgresError, error.code == .connectionLost || error.code == .timedOut {
                // The server went away, or went silent, for one connection; the idle ones share its
                // fate (a silent peer leaves them looking healthy to the idle check).
                discardIdleConnections()
            }
            throw error
        }
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> PostgresRows {
        try await withConnection { try $0.query(sql, parameters) }
    }

    /// Runs `body` inside BEGIN/COMMIT; any error rolls back and is rethrown.
    public func withTransaction<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try connection.execute(script: "BEGIN")
            do {
                let result = try body(connection)
                try connection.execute(script: "COMMIT")
                return result
            } catch {
                if !connection.isBroken { try? connection.execute(script: "ROLLBACK") }
                throw error
            }
        }
    }

    /// Closes idle connections at once and refuses new work. Calls still running get
    /// `gracePeriod` to finish; then their waits are interrupted (they throw `poolClosed`) and
    /// their connections closed when they return, which they do at once. No cancel request is
    /// sent: libpq's PQcancel opens a new connection and blocks without a bound when the network
    /// is partitioned. A statement the server is still running goes on until it ends or reaches
    /// its statement_timeout; a transaction left open rolls back when its backend sees the
    /// closed socket. Returns within `gracePeriod`; a connection still being opened is closed
    /// when its connect returns (within `connectTimeout`).
    public func close(gracePeriod: Duration = .seconds(2)) async {
        let idle = state.withLock { $0.close() }
        for waiter in idle.waiters { waiter.resume(throwing: PostgresError(.poolClosed)) }
        await closeConnections(idle.connections)
        guard await !everyCallReturned(within: gracePeriod) else { return }
        let stuck = state.withLock { Array($0.busy.values) }
        guard !stuck.isEmpty else { return }
        logger.warning("interrupting PostgreSQL calls still running at shutdown", metadata: ["count": "\(stuck.count)"])
        stuck.forEach { $0.interrupt() }
    }

    /// Connections open or being opened, and idle ones (for tests and metrics).
    public var counts: (open: Int, idle: Int) {
        state.withLock { ($0.open, $0.idle.count) }
    }

    // MARK: Checking connections out and in

    private func checkOut(deadline: ContinuousClock.Instant?) async throws -> PostgresConnection {
        while true {
            if let deadline, deadline <= .now {
                throw PostgresError(.deadlineExceeded, detail: "the caller's deadline passed before a connection was free")
            }
            let connection: PostgresConnection
            switch try await acquire(deadline: deadline) {
            case .connection(let idle):
                // Cheap liveness check: a restarted server leaves idle connections readable.
                if idle.isDeadWhileIdle() {
                    logger.debug("discarding a pooled PostgreSQL connection the server closed")
                    releaseSlot(closing: idle)
                    continue
                }
                connection = idle
            case .openNew:
                do {
                    let configuration = self.configuration
                    connection = try await run { try PostgresConnection.connect(configuration) }
                } catch {
                    releaseSlot(closing: nil)
                    throw error
                }
            }
            // close() may have run meanwhile; from here on it sees the call and can interrupt it.
            guard state.withLock({ $0.markBusy(connection) }) else {
                releaseSlot(closing: connection)
                throw PostgresError(.poolClosed)
            }
            return connection
        }
    }

    private func acquire(deadline: ContinuousClock.Instant?) async throws -> PoolState.Grant {
        let immediate = try state.withLock { try $0.acquire() }
        if let immediate { return immediate }
        let id = state.withLock { $0.nextWaiterID() }
        let ownTimeout = configuration.acquireTimeout
        let limitedByDeadline = deadline.map { $0 - .now < ownTimeout } ?? false
        let timeout = if let deadline, limitedByDeadline { deadline - .now } else { ownTimeout }
        return try await withThrowingTaskGroup(of: PoolState.Grant?.self) { group in
            group.addTask { try await self.wait(id: id) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            if let grant = first { return grant }
            // Timed out; the waiter may still have been served at the last moment.
            if let late = try? await group.next(), let grant = late { return grant }
            if limitedByDeadline {
                throw PostgresError(.deadlineExceeded, detail: "no pooled connection became free before the caller's deadline")
            }
            throw PostgresError(.poolTimeout)
        }
    }

    private func wait(id: UInt64) async throws -> PoolState.Grant {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // Checked under the lock that onCancel takes: either it finds the waiter, or the
                // waiter is never queued (and would otherwise wait past its acquire timeout).
                let resumeNow = state.withLock { state -> Result<PoolState.Grant, any Error>? in
                    Task.isCancelled ? .failure(CancellationError()) : state.enqueue(id: id, continuation)
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            if let continuation = state.withLock({ $0.cancelWaiter(id: id) }) {
                continuation.resume(throwing: CancellationError())
            }
        }
    }

    private func checkIn(_ connection: PostgresConnection) {
        if connection.isBroken {
            releaseSlot(closing: connection)
            return
        }
        let action = state.withLock { $0.release(connection) }
        perform(action)
    }

    private func releaseSlot(closing connection: PostgresConnection?) {
        let action = state.withLock { $0.releaseSlot(connection) }
        if let connection { closeInBackground([connection]) }
        perform(action)
    }

    private func discardIdleConnections() {
        let (stale, actions) = state.withLock { $0.drainIdle() }
        guard !stale.isEmpty else { return }
        logger.info("discarding idle PostgreSQL connections after a connection was lost", metadata: ["count": "\(stale.count)"])
        closeInBackground(stale)
        actions.forEach(perform)
    }

    private func perform(_ action: PoolState.ReleaseAction) {
        switch action {
        case .none:
            break
        case .hand(let grant, let continuation):
            continuation.resume(returning: grant)
        case .close(let connection, let drained):
            closeInBackground([connection])
            drained.forEach { $0.resume() }
        case .drained(let waiters):
            waiters.forEach { $0.resume() }
        }
    }

    /// Whether every checked-out connection came back within `timeout` (after `close`).
    private func everyCallReturned(within timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitUntilDrained() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// Returns true once no connection is checked out, false when cancelled first.
    private func waitUntilDrained() async -> Bool {
        let id = state.withLock { $0.nextWaiterID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Checked under the lock that onCancel takes: either it finds the waiter, or the
                // waiter is never queued.
                let queued = state.withLock { !Task.isCancelled && $0.enqueueDrainWaiter(id: id, continuation) }
                if !queued { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.cancelDrainWaiter(id: id) }?.resume()
        }
        return !Task.isCancelled
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await threadPool.runIfActive(body)
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw PostgresError(.poolClosed, detail: "the PostgreSQL thread pool is not running")
        }
    }

    private func closeConnections(_ connections: [PostgresConnection]) async {
        guard !connections.isEmpty else { return }
        _ = try? await threadPool.runIfActive { connections.forEach { $0.close() } }
    }

    private func closeInBackground(_ connections: [PostgresConnection]) {
        // PQfinish writes to the socket; keep it off the caller's (possibly cooperative) thread.
        threadPool.submit { _ in connections.forEach { $0.close() } }
    }
}

/// The pool's bookkeeping as a plain value: which connections are idle, how many are open, who
/// waits. Every method is called under the pool's lock and returns what the shell must do.
struct PoolState: ~Copyable {
    enum Grant: Sendable {
        case connection(PostgresConnection)
        /// A slot is reserved for the caller; it opens the connection itself.
        case openNew
    }

    enum ReleaseAction {
        case none
        case hand(Grant, CheckedContinuation<Grant, any Error>)
        /// Close the connection; after `close`, also wake whoever waits for the last return.
        case close(PostgresConnection, drained: [CheckedContinuation<Void, Never>])
        case drained([CheckedContinuation<Void, Never>])
    }

    let maximumConnections: Int
    private(set) var idle: [PostgresConnection] = []
    /// Connections checked out, idle, or being opened.
    private(set) var open = 0
    /// Connections a call is using, so that `close` can interrupt them.
    private(set) var busy: [ObjectIdentifier: PostgresConnection] = [:]
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Grant, any Error>)] = []
    /// `close` waiting for the last checked-out connection to come back.
    private var drainWaiters: [(id: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    private var lastWaiterID: UInt64 = 0
    private var isClosed = false

    init(maximumConnections: Int) {
        self.maximumConnections = max(1, maximumConnections)
    }

    mutating func acquire() throws -> Grant? {
        guard !isClosed else { throw PostgresError(.poolClosed) }
        if let connection = idle.popLast() { return .connection(connection) }
        if open < maximumConnections {
            open += 1
            return .openNew
        }
        return nil
    }

    mutating func nextWaiterID() -> UInt64 {
        lastWaiterID += 1
        return lastWaiterID
    }

    /// Queues a waiter, or says how to resume it at once if capacity appeared meanwhile.
    mutating func enqueue(id: UInt64, _ continuation: CheckedContinuation<Grant, any Error>) -> Result<Grant, any Error>? {
        do {
            if let grant = try acquire() { return .success(grant) }
        } catch {
            return .failure(error)
        }
        waiters.append((id, continuation))
        return nil
    }

    mutating func cancelWaiter(id: UInt64) -> CheckedContinuation<Grant, any Error>? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).continuation
    }

    /// A call starts using `connection`; false once the pool is closed (the caller gives it back).
    mutating func markBusy(_ connection: PostgresConnection) -> Bool {
        guard !isClosed else { return false }
        busy[ObjectIdentifier(connection)] = connection
        return true
    }

    mutating func enqueueDrainWaiter(id: UInt64, _ continuation: CheckedContinuation<Void, Never>) -> Bool {
        guard !busy.isEmpty else { return false }
        drainWaiters.append((id, continuation))
        return true
    }

    mutating func cancelDrainWaiter(id: UInt64) -> CheckedContinuation<Void, Never>? {
        guard let index = drainWaiters.firstIndex(where: { $0.id == id }) else { return nil }
        return drainWaiters.remove(at: index).continuation
    }

    /// The waiters to wake now that the last busy connection came back.
    private mutating func takeDrainWaitersIfDrained() -> [CheckedContinuation<Void, Never>] {
        guard busy.isEmpty, !drainWaiters.isEmpty else { return [] }
        defer { drainWaiters.removeAll() }
        return drainWaiters.map(\.continuation)
    }

    /// A healthy connection comes back.
    mutating func release(_ connection: PostgresConnection) -> ReleaseAction {
        busy[ObjectIdentifier(connection)] = nil
        if isClosed {
            open -= 1
            return .close(connection, drained: takeDrainWaitersIfDrained())
        }
        if !waiters.isEmpty {
            return .hand(.connection(connection), waiters.removeFirst().continuation)
        }
        idle.append(connection)
        return .none
    }

    /// A connection died or could not be opened: its slot is free again.
    mutating func releaseSlot(_ connection: PostgresConnection? = nil) -> ReleaseAction {
        if let connection { busy[ObjectIdentifier(connection)] = nil }
        open -= 1
        if isClosed {
            let drained = takeDrainWaitersIfDrained()
            return drained.isEmpty ? .none : .drained(drained)
        }
        guard !waiters.isEmpty else { return .none }
        open += 1
        return .hand(.openNew, waiters.removeFirst().continuation)
    }

    mutating func drainIdle() -> ([PostgresConnection], [ReleaseAction]) {
        let stale = idle
        idle.removeAll()
        var actions: [ReleaseAction] = []
        for _ in stale { actions.append(releaseSlot()) }
        return (stale, actions)
    }

    mutating func close() -> (connections: [PostgresConnection], waiters: [CheckedContinuation<Grant, any Error>]) {
        isClosed = true
        let connections = idle
        open -= idle.count
        idle.removeAll()
        let pending = waiters.map(\.continuation)
        waiters.removeAll()
        return (connections, pending)
    }
}
