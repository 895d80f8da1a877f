import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// LISTENs on fixed channels over a dedicated connection, polled with poll(2) on a thread of its
/// own, and delivers what arrives as an AsyncSequence. After a lost connection it reconnects with
/// backoff and emits `.listening` again: notifications sent meanwhile are lost, so consumers
/// resynchronise whenever they see `.listening`. A connection that goes silent (a partition, a
/// hung server) is found by TCP keepalives, or at the latest by the probe after
/// `idleCheckInterval`, which must answer within `probeTimeout`; stopping interrupts any wait.
public final class PostgresListener: Sendable {
    public enum Event: Sendable, Hashable {
        /// LISTEN is (re-)established on every channel.
        case listening
        case notification(PostgresNotification)
    }

    public let channels: [String]
    /// The events, for one consumer. Bounded: if the consumer stalls, the oldest are dropped.
    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let wake: WakePipe
    private let stopRequested = Atomic<Bool>(false)
    /// How long a silent connection is trusted before a round trip checks it.
    private let idleCheckInterval: Duration
    /// How long that round trip (and LISTEN after connecting) may take.
    private let probeTimeout: Duration

    public init(
        configuration: PostgresConfiguration,
        channels: [String],
        logger: Logger,
        idleCheckInterval: Duration = .seconds(10),
        probeTimeout: Duration = .seconds(5)
    ) throws {
        for channel in channels where !Self.isValidChannel(channel) {
            throw PostgresError(.invalidArgument, detail: "invalid LISTEN channel name \(channel)")
        }
        self.channels = channels
        self.configuration = configuration
        self.logger = logger
        self.idleCheckInterval = idleCheckInterval
        self.probeTimeout = probeTimeout
        self.wake = try WakePipe()
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Channel names are identifiers we quote ourselves; allow only the plain lowercase form.
    static func isValidChannel(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63 else { return false }
        let isLower = { (c: UInt8) in c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") }
        let isDigit = { (c: UInt8) in c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        guard isLower(first) || first == UInt8(ascii: "_") else { return false }
        return name.utf8.allSatisfy { isLower($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// Listens until the calling task is cancelled; then the event stream finishes.
    public func run() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread { [self] in
                    loop()
                    continuation.finish()
                    done.resume()
                }
                thread.name = "pairgate-pg-listen"
                thread.start()
            }
        } onCancel: {
            stopRequested.store(true, ordering: .relaxed)
            wake.signal()
        }
    }

    private func loop() {
        var connection: PostgresConnection?
        var retryDelay = Duration.milliseconds(100)
        defer { connection?.close() }
        while !stopRequested.load(ordering: .relaxed) {
            guard let live = connection else {
                do {
                    // The connection's waits watch the listener's pipe, so stopping ends them too.
                    let fresh = try PostgresConnection.connect(configuration, wake: wake)
                    connection = fresh
                    for channel in channels { try fresh.execute(script: "LISTEN \"\(channel)\"", timeout: probeTimeout) }
                    retryDelay = .milliseconds(100)
                    continuation.yield(.listening)
                    // A notification on the first channel may have come in while LISTEN ran on the next.
                    try deliverNotifications(from: fresh)
                } catch {
                    connection?.close()
                    connection = nil
                    logger.warning("PostgreSQL LISTEN connection failed; retrying", metadata: ["error": "\(error)"])
                    if wake.wait(socket: nil, timeout: retryDelay) == .woken { return }
                    retryDelay = min(retryDelay * 2, .seconds(5))
                }
                continue
            }
            switch wake.wait(socket: live.socket, timeout: idleCheckInterval) {
            case .woken:
                return
            case .ready:
                do {
                    try deliverNotifications(from: live)
                } catch {
                    logger.warning("PostgreSQL LISTEN connection lost; reconnecting", metadata: ["error": "\(error)"])
                    live.close()
                    connection = nil
                }
            case .timedOut:
                // A silent peer may be gone without a FIN (partition), or hold the connection open
                // and never answer; a bounded round trip finds out either way.
                do {
                    try live.execute(script: "SELECT 1", timeout: probeTimeout)
                    // Notifications read along with the answer wait in libpq, not on the socket.
                    try deliverNotifications(from: live)
                } catch {
                    if stopRequested.load(ordering: .relaxed) { return }
                    logger.warning("PostgreSQL LISTEN connection did not answer its probe; reconnecting", metadata: ["error": "\(error)"])
                    live.close()
                    connection = nil
                }
            }
        }
    }

    private func deliverNotifications(from connection: PostgresConnection) throws {
        for notification in try connection.consumeNotifications() {
            continuation.yield(.notification(notification))
        }
    }
}

extension PostgresPool {
    /// Sends a NOTIFY through a pooled connection.
    public func notify(channel: String, payload: String) async throws {
        try await query("SELECT pg_notify($1, $2)", [channel, payload])
    }
}
