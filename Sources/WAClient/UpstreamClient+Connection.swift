import NIOCore
import Synchronization
import WAWire

/// One device's connection to the upstream, from `UpstreamClient.connect`. Its events go to the
/// consumer given to `connect`, which calls `handled()` after each; it ends by itself (failure,
/// logout, restart) or with `close(reason:)`.
public final class UpstreamConnection: Sendable {
    private enum State {
        /// Resolving and connecting; no channel yet.
        case connecting
        /// The socket is open; proxy, TLS or the upgrade is under way.
        case connected(any Channel)
        /// The WebSocket is open and the session machine runs.
        case session(any Channel, NIOLoopBound<ClientSessionHandler>)
    }

    private let eventLoop: any EventLoop
    private let eventSink: ConnectionEvents
    private let state = Mutex(State.connecting)
    private let requestCounter = Atomic<UInt64>(0)

    init(eventLoop: any EventLoop, events: ConnectionEvents) {
        self.eventLoop = eventLoop
        eventSink = events
    }

    /// The consumer is done with one delivered event. The connection stops reading from its
    /// socket while `ClientConfiguration.eventBufferSize` events wait for this, and reads on once
    /// half of them were handled.
    public func handled() {
        guard eventSink.handled(), case .session(_, let handler) = state.withLock({ $0 }) else { return }
        eventLoop.execute {
            handler.value.resumeReading()
        }
    }

    /// Ends the connection on purpose; returns once the terminal `.disconnected(reason)` was emitted
    /// (or the connection had already ended by itself).
    public func close(reason: DisconnectReason) async {
        eventSink.closeRequested(reason)
        switch state.withLock({ $0 }) {
        case .connecting:
            // The connect callback sees the request and closes the channel it gets.
            break
        case .connected(let channel):
            channel.close(promise: nil)
        case .session(_, let handler):
            eventLoop.execute {
                handler.value.close(reason)
            }
        }
        try? await eventSink.ended.get()
    }

    /// Removes this companion from its account (remove-companion-device); the connection then ends with
    /// `.loggedOut`. Throws `ClientRequestError` when the device is not online or the server refuses.
    public func logout() async throws {
        _ = try await request(.logout)
    }

    /// Writes the answers to delivered stanzas (`ClientEvent.stanza`) in order and flushes them;
    /// returns once they are written to the socket's buffer. Throws `ClientRequestError`
    /// (`connectionClosed` once the connection ended, `invalidRequest` when a node cannot be encoded,
    /// in which case nothing was written).
    public func send(_ nodes: [Node]) async throws {
        guard case .session(_, let handler) = state.withLock({ $0 }), !eventSink.hasEnded else {
            throw ClientRequestError(eventSink.hasEnded ? .connectionClosed : .notConnected)
        }
        let id = ClientRequestID(requestCounter.wrappingAdd(1, ordering: .relaxed).newValue)
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute {
            handler.value.send(id, nodes, promise: promise)
        }
        try await promise.futureResult.get()
    }

    /// Sends `iq` (without `id`: the machine assigns it) and waits for its `type="result"` answer,
    /// up to the configured request timeout; the connection reads on meanwhile. Throws
    /// `ClientRequestError` (`errorResponse` with the `<error>`'s code, `timedOut`, `connectionClosed`).
    public func query(_ iq: Node) async throws -> Node {
        try await request(.iq(iq, timeout: nil))
    }

    /// Sends an API request to the session machine and waits for its answer.
    func request(_ request: ClientRequest) async throws -> Node {
        guard case .session(_, let handler) = state.withLock({ $0 }), !eventSink.hasEnded else {
            throw ClientRequestError(eventSink.hasEnded ? .connectionClosed : .notConnected)
        }
        let id = ClientRequestID(requestCounter.wrappingAdd(1, ordering: .relaxed).newValue)
        let promise = eventLoop.makePromise(of: Node.self)
        eventLoop.execute {
            handler.value.request(id, request, promise: promise)
        }
        return try await promise.futureResult.get()
    }

    // MARK: From the transport, on the event loop

    func connected(_ channel: any Channel) {
        let closeNow = state.withLock { state -> Bool in
            if case .connecting = state {
                state = .connected(channel)
            }
            return eventSink.hasEnded || eventSink.requestedCloseReason != nil
        }
        if closeNow {
            // The connect promise completes before the pipeline hears channelActive; closing after that
            // lets the handlers see the whole life of the channel and report the end.
            channel.eventLoop.execute {
                channel.close(promise: nil)
            }
        }
    }

    func sessionStarted(channel: any Channel, handler: NIOLoopBound<ClientSessionHandler>) {
        state.withLock { $0 = .session(channel, handler) }
        if let reason = eventSink.requestedCloseReason {
            handler.value.close(reason)
        }
    }
}
