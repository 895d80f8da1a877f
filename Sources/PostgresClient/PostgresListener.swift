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
/// resynchronise whenever they see `.listening`.
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

    public init(
        configuration: PostgresConfiguration,
        channels: [String],
        logger: Logger,
        idleCheckInterval: Duration = .seconds(30)
    ) throws {
        for channel in channels where !Self.isValidChannel(channel) {
            throw PostgresError(.invalidArgument, detail: "invalid LISTEN channel name \(channel)")
        }
        self.channels = channels
        self.configuration = configuration
        self.logger = logger
        self.idleCheckInterval = idleCheckInterval
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
                    let fresh = try PostgresConnection.connect(configuration)
                    for channel in channels { try fresh.execute(script: "LISTEN \"\(channel)\"") }
                    connection = fresh
                    retryDelay = .milliseconds(100)
                    continuation.yield(.listening)
                } catch {
                    logger.warning("PostgreSQL LISTEN connection failed; retrying", metadata: ["error": "\(error)"])
                    if wake.wait(socket: nil, timeout: retryDelay) == .woken { return }
                    retryDelay = min(retryDelay * 2, .seconds(5))
                }
                continue
            }
            switch wake.wait(socket: live.socket, timeout: idleCheckInterval) {
            case .woken:
                return
            case .readable:
                do {
                    for notification in try live.consumeNotifications() {
                        continuation.yield(.notification(notification))
                    }
                } catch {
                    logger.warning("PostgreSQL LISTEN connection lost; reconnecting", metadata: ["error": "\(error)"])
                    live.close()
                    connection = nil
                }
            case .timedOut:
                // A silent peer may be gone without a FIN (partition); a round trip finds out.
                do { try live.execute(script: "SELECT 1") } catch {
                    live.close()
                    connection = nil
                }
            }
        }
    }
}

/// A self-pipe so `run()`'s cancellation can interrupt a blocking poll(2).
private final class WakePipe: Sendable {
    enum Outcome { case woken, readable, timedOut }
    private let readEnd: Int32
    private let writeEnd: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw PostgresError(.invalidArgument, detail: "pipe() failed") }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    func wait(socket: Int32?, timeout: Duration) -> Outcome {
        var descriptors = [pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
        if let socket { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let millis = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&descriptors, nfds_t(descriptors.count), millis)
        if ready <= 0 { return .timedOut }
        if descriptors[0].revents != 0 { return .woken }
        return .readable
    }
}

extension PostgresPool {
    /// Sends a NOTIFY through a pooled connection.
    public func notify(channel: String, payload: String) async throws {
        try await query("SELECT pg_notify($1, $2)", [channel, payload])
    }
}
