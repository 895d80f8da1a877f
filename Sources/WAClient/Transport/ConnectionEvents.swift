import NIOCore
import Synchronization

/// The event stream of one connection and the rule that it ends exactly once.
///
/// The session machine emits its own terminal event and then `finish()` ends the stream; failures before
/// the machine runs (connect, proxy, TLS, upgrade) come through `fail(_:)`, which emits the terminal event
/// itself. A close the API asked for wins over what the transport saw when the socket went down.
final class ConnectionEvents: Sendable {
    let stream: AsyncStream<ClientEvent>
    private let continuation: AsyncStream<ClientEvent>.Continuation
    private let state = Mutex<(ended: Bool, localReason: DisconnectReason?)>((false, nil))
    private let endedPromise: EventLoopPromise<Void>

    /// Keeps the newest `bufferSize` events when the consumer falls behind (the terminal event is always last).
    init(bufferSize: Int, eventLoop: any EventLoop) {
        (stream, continuation) = AsyncStream.makeStream(of: ClientEvent.self, bufferingPolicy: .bufferingNewest(max(bufferSize, 1)))
        endedPromise = eventLoop.makePromise()
    }

    /// Completes once the stream has ended.
    var ended: EventLoopFuture<Void> {
        endedPromise.futureResult
    }

    var hasEnded: Bool {
        state.withLock { $0.ended }
    }

    func yield(_ event: ClientEvent) {
        continuation.yield(event)
    }

    /// The terminal event was yielded already.
    func finish() {
        guard state.withLock({ state in
            defer { state.ended = true }
            return !state.ended
        }) else {
            return
        }
        continuation.finish()
        endedPromise.succeed()
    }

    /// The transport failed before the session machine ran (or it never ran): emit `reason` and end.
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
        continuation.yield(terminal.category == .loggedOut ? .loggedOut(terminal) : .disconnected(terminal))
        continuation.finish()
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
