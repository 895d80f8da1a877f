import NIOCore
import Synchronization

/// Where one connection's events go, and the rules around them: each is delivered once, in
/// order, the terminal one (`.disconnected` or `.loggedOut`) last, and none is ever dropped.
///
/// The consumer says when it is done with each (`handled()`). While `window` delivered events
/// are not handled yet, the connection stops reading from its socket, and it reads on once the
/// consumer is down to half of that: a slow consumer slows the server down (TCP backpressure)
/// instead of growing a queue or losing a QR code — or, later, a message.
///
/// The session machine emits its own terminal event and then `finish()` ends the delivery;
/// failures before the machine runs (connect, proxy, TLS, upgrade) come through `fail(_:)`, which
/// emits the terminal event itself. A close the API asked for wins over what the transport saw
/// when the socket went down. Everything but `handled()` runs on the connection's event loop,
/// which keeps the deliveries in order.
final class ConnectionEvents: Sendable {
    private struct State {
        var ended = false
        var localReason: DisconnectReason?
        /// Delivered and not yet handled by the consumer.
        var outstanding = 0
        var paused = false
    }

    private let deliver: @Sendable (ClientEvent) -> Void
    private let window: Int
    private let state = Mutex(State())
    private let endedPromise: EventLoopPromise<Void>

    init(window: Int, eventLoop: any EventLoop, deliver: @escaping @Sendable (ClientEvent) -> Void) {
        self.deliver = deliver
        self.window = max(window, 1)
        endedPromise = eventLoop.makePromise()
    }

    /// Completes once the terminal event was delivered.
    var ended: EventLoopFuture<Void> {
        endedPromise.futureResult
    }

    var hasEnded: Bool {
        state.withLock { $0.ended }
    }

    /// Whether the connection should not read from its socket now.
    var isPaused: Bool {
        state.withLock { $0.paused }
    }

    func yield(_ event: ClientEvent) {
        let open = state.withLock { state in
            guard !state.ended else { return false }
            state.outstanding += 1
            if state.outstanding >= window { state.paused = true }
            return true
        }
        if open { deliver(event) }
    }

    /// The consumer is done with one event; true when reading should resume.
    func handled() -> Bool {
        state.withLock { state in
            state.outstanding = max(0, state.outstanding - 1)
            guard state.paused, state.outstanding <= window / 2 else { return false }
            state.paused = false
            return true
        }
    }

    /// The terminal event was delivered already.
    func finish() {
        guard state.withLock({ state in
            defer { state.ended = true }
            return !state.ended
        }) else {
            return
        }
        endedPromise.succeed()
    }

    /// The transport failed before the session machine ran (or it never ran): deliver `reason` and end.
    func fail(_ reason: DisconnectReason) {
        let terminal = state.withLock { state -> DisconnectReason? in
            guard !state.ended else {
                return nil
            }
            state.ended = true
            return state.localReason ?? reason
        }
        guard let terminal else {
            return
        }
        deliver(terminal.category == .loggedOut ? .loggedOut(terminal) : .disconnected(terminal))
        endedPromise.succeed()
    }

    /// The reason `closeRequested` recorded, if the API asked for the close.
    var requestedCloseReason: DisconnectReason? {
        state.withLock { $0.localReason }
    }

    /// The API closes the connection before its session runs: the end reports `reason`, not the socket's fate.
    func closeRequested(_ reason: DisconnectReason) {
        state.withLock { state in
            if state.localReason == nil {
                state.localReason = reason
            }
        }
    }
}
