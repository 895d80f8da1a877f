import Foundation
import NIOCore

/// Runs one `SimConnectionMachine` on its channel's event loop: registers the connection with the
/// `SimWorld`, feeds the machine the client's binary messages, timer firings and the world's deliveries
/// (hopped onto the event loop), and carries out its writes, timers, world updates and questions, and close.
///
/// Added by `SimServer`'s connection handler after the upgrade. Per connection it holds the machine, a
/// small timer table and the world's delivery closure — nothing else — so 10,000 of them stay cheap.
public final class SimConnectionHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let world: SimWorld
    private let configuration: SimConnectionMachine.Configuration
    private var machine: SimConnectionMachine?
    private var context: ChannelHandlerContext?
    private var timers: [SimConnectionMachine.Timer: Scheduled<Void>] = [:]

    /// A handler for one upgraded connection of `world`'s server.
    public init(world: SimWorld, configuration: SimConnectionMachine.Configuration) {
        self.world = world
        self.configuration = configuration
    }

    /// Adds a handler to a freshly upgraded `channel`; use it as `SimServer`'s connection handler.
    public static func install(on channel: any Channel, world: SimWorld, configuration: SimConnectionMachine.Configuration) throws {
        try channel.pipeline.syncOperations.addHandler(SimConnectionHandler(world: world, configuration: configuration))
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let eventLoop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        let remote = context.channel.remoteAddress
        let peer = remote.flatMap { address in address.ipAddress.map { "\($0):\(address.port ?? 0)" } }
        let ticket = world.openConnection(peer: peer) { delivery in
            eventLoop.execute {
                handler.value.handle(.delivered(delivery, now: Date()))
            }
        }
        machine = SimConnectionMachine(id: ticket.id, configuration: configuration, faults: ticket.faults)
        handle(.connected(now: Date()))
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        handle(.transportClosed)
        self.context = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var message = unwrapInboundIn(data)
        handle(.received(message.readBytes(length: message.readableBytes) ?? [], now: Date()))
    }

    public func channelInactive(context: ChannelHandlerContext) {
        handle(.transportClosed)
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Runs `input` and what follows: a question's answer goes straight back into the machine.
    private func handle(_ input: SimConnectionMachine.Input) {
        var next: SimConnectionMachine.Input? = input
        while let input = next, var machine {
            let actions = machine.handle(input)
            self.machine = machine
            next = execute(actions, of: machine.id)
            if machine.phase == .closed {
                cancelTimers()
            }
        }
    }

    /// Carries out `actions`; returns the world's answer when the last one was a question.
    private func execute(_ actions: [SimConnectionMachine.Action], of connection: SimConnectionID) -> SimConnectionMachine.Input? {
        var wrote = false
        var answer: SimConnectionMachine.Input?
        for action in actions {
            switch action {
            case .write(let bytes):
                guard let context else {
                    continue
                }
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
                wrote = true
            case .schedule(let timer, let delay):
                schedule(timer, after: delay)
            case .cancel(let timer):
                timers.removeValue(forKey: timer)?.cancel()
            case .update(let update):
                world.apply(update, from: connection)
            case .ask(let question):
                answer = .answered(world.answer(question, from: connection), now: Date())
            case .close:
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
        return answer
    }

    private func schedule(_ timer: SimConnectionMachine.Timer, after delay: Duration) {
        guard let context else {
            return
        }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timers[timer]?.cancel()
        timers[timer] = context.eventLoop.scheduleTask(in: TimeAmount(delay)) {
            let handler = handler.value
            handler.timers.removeValue(forKey: timer)
            handler.handle(.timerFired(timer, now: Date()))
        }
    }

    private func cancelTimers() {
        for scheduled in timers.values {
            scheduled.cancel()
        }
        timers = [:]
    }
}
