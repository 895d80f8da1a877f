import Foundation
import NIOCore
import WAWire
import WebSocketMessages

/// Runs one `ClientSessionMachine` on its channel's event loop: feeds it the WebSocket's binary messages,
/// timer firings and API calls, and carries out its actions (writes, events, timers, the close).
///
/// Added after the WebSocket upgrade, behind the `WebSocketMessageHandler`; everything it does happens on
/// the event loop, so it needs no locks and no Swift task. It holds back the channel's reads while the
/// consumer has too many events in hand (`ConnectionEvents`) — except while an API request waits for
/// its answer: the answer is somewhere in the bytes not yet read, and a consumer that awaits it before
/// handling its events would otherwise wait forever.
final class ClientSessionHandler: ChannelDuplexHandler, TimerWheelOwner {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: ClientSessionMachine
    private let events: ConnectionEvents
    private var context: ChannelHandlerContext?
    /// Timers shorter than `wheelMinimum`, as NIO tasks (exact).
    private var timers: [ClientSessionMachine.Timer: Scheduled<Void>] = [:]
    /// Timers on the event loop's wheel, by the generation their entry carries.
    private var wheelTimers: [ClientSessionMachine.Timer: UInt64] = [:]
    private var generation: UInt64 = 0
    private let wheel: TimerWheel?
    /// API requests waiting for the server's answer (IQs, logout).
    private var requests: [ClientRequestID: EventLoopPromise<Node>] = [:]
    private var sends: [ClientRequestID: EventLoopPromise<Void>] = [:]
    private let keepaliveRoundTrip: (@Sendable (Duration) -> Void)?
    /// A read the channel asked for while the consumer was behind.
    private var readHeld = false

    /// `wheel` takes every timer of ten of its resolutions or more (in production: all of them —
    /// keepalive, request deadlines, QR rotation, the handshake timeout); shorter ones would be
    /// off by more than a tenth, so they stay NIO tasks.
    init(
        machine: ClientSessionMachine,
        events: ConnectionEvents,
        wheel: TimerWheel? = nil,
        keepaliveRoundTrip: (@Sendable (Duration) -> Void)? = nil
    ) {
        self.machine = machine
        self.events = events
        self.wheel = wheel
        self.keepaliveRoundTrip = keepaliveRoundTrip
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive {
            handle(.connected(now: Date()))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var message = unwrapInboundIn(data)
        handle(.received(message.readBytes(length: message.readableBytes) ?? [], now: Date()))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let reason = events.requestedCloseReason {
            handle(.close(reason))
        } else {
            handle(.transportClosed)
        }
        cancelTimers()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is WebSocketMessageHandler.MessageTooLarge {
            handle(.close(DisconnectReason(stage: .stream, category: .protocolViolation, detail: "the server sent a WebSocket message larger than we accept")))
        } else {
            // The machine tells a close during the handshake from one while connected.
            context.close(promise: nil)
        }
    }

    // MARK: Flow control

    func read(context: ChannelHandlerContext) {
        if holdsReads {
            readHeld = true
        } else {
            context.read()
        }
    }

    /// The consumer caught up, or asked for something whose answer must be read: a held read goes ahead.
    func resumeReading() {
        guard readHeld, !holdsReads, let context else { return }
        readHeld = false
        context.read()
    }

    /// Reads wait while the consumer is behind and no request of its waits for an answer. While one
    /// does, events keep coming (the window is exceeded by what arrives before the answer, for at
    /// most the request's timeout), because the consumer may be awaiting the answer before it
    /// handles them.
    private var holdsReads: Bool {
        events.isPaused && requests.isEmpty
    }

    // MARK: API calls, already on the event loop

    func request(_ id: ClientRequestID, _ request: ClientRequest, promise: EventLoopPromise<Node>) {
        requests[id] = promise
        handle(.request(id, request))
        resumeReading()
    }

    func send(_ id: ClientRequestID, _ nodes: [Node], promise: EventLoopPromise<Void>) {
        sends[id] = promise
        handle(.request(id, .send(nodes)))
    }

    func close(_ reason: DisconnectReason) {
        handle(.close(reason))
    }

    // MARK: Running the machine

    private func handle(_ input: ClientSessionMachine.Input) {
        execute(machine.handle(input))
    }

    private func execute(_ actions: [ClientSessionMachine.Action]) {
        var wrote = false
        for action in actions {
            switch action {
            case .write(let bytes):
                guard let context else {
                    continue
                }
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
                wrote = true
            case .emit(.online(var info)):
                info.localAddress = context?.channel.localAddress.flatMap { address in
                    address.ipAddress.map { "\($0):\(address.port ?? 0)" }
                }
                events.yield(.online(info))
            case .emit(let event):
                events.yield(event)
            case .confirmPairing(let credentials):
                events.yield(.pairSuccess(credentials: credentials, confirmation: confirmation()))
            case .keepaliveRoundTrip(let roundTrip):
                keepaliveRoundTrip?(roundTrip)
            case .schedule(let timer, let delay):
                schedule(timer, after: delay)
            case .cancel(let timer):
                timers.removeValue(forKey: timer)?.cancel()
                wheelTimers.removeValue(forKey: timer)
            case .complete(let id, let result):
                requests.removeValue(forKey: id)?.completeWith(result.mapError { $0 as any Error })
            case .sent(let id, let result):
                // Written: flushed before the caller hears so, so the answers are on their way in order.
                if wrote {
                    context?.flush()
                    wrote = false
                }
                sends.removeValue(forKey: id)?.completeWith(result.mapError { $0 as any Error })
            case .close:
                cancelTimers()
                events.finish()
                if wrote {
                    context?.flush()
                    wrote = false
                }
                context?.close(promise: nil)
            }
        }
        if wrote {
            context?.flush()
        }
    }

    private func schedule(_ timer: ClientSessionMachine.Timer, after delay: Duration) {
        guard let context else {
            return
        }
        timers.removeValue(forKey: timer)?.cancel()
        let amount = TimeAmount(delay)
        if let wheel, amount.nanoseconds >= 10 * wheel.resolution.nanoseconds {
            generation &+= 1
            wheelTimers[timer] = generation
            wheel.add(after: amount, owner: self, timer: timer, generation: generation)
            return
        }
        wheelTimers.removeValue(forKey: timer)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timers[timer] = context.eventLoop.scheduleTask(in: amount) {
            let handler = handler.value
            handler.timers.removeValue(forKey: timer)
            handler.handle(.timerFired(timer, now: Date()))
        }
    }

    func timerWheelFired(_ timer: ClientSessionMachine.Timer, generation: UInt64) {
        guard wheelTimers[timer] == generation else {
            return
        }
        wheelTimers.removeValue(forKey: timer)
        handle(.timerFired(timer, now: Date()))
    }

    private func cancelTimers() {
        for scheduled in timers.values {
            scheduled.cancel()
        }
        timers = [:]
        // Their entries stay on the wheel until their slots come round, and are ignored then.
        wheelTimers = [:]
    }

    /// The consumer answers from any thread; the answer hops back onto the event loop.
    private func confirmation() -> PairingConfirmation {
        guard let eventLoop = context?.eventLoop else {
            return PairingConfirmation { _ in }
        }
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        return PairingConfirmation { result in
            eventLoop.execute {
                let decision: ClientSessionMachine.PairingDecision
                switch result {
                case .success: decision = .accepted
                case .failure(let error): decision = .rejected(detail: "persisting the credentials failed: \(error)")
                }
                handler.value.handle(.pairingConfirmed(decision, now: Date()))
            }
        }
    }
}
