import FleetHarness
import NIOCore
import NIOHTTP1
import NIOPosix
import WAWire

/// A closed-loop HTTP/1.1 load generator: `connections` keep-alive connections, each sending the
/// same request again as soon as the previous answer ended. It runs on NIO event loops with no
/// Swift task per request, so it costs the server's cores as little as a load generator can.
public struct LoadGenerator: Sendable {
    /// The address connected to (the Host header comes with the request's headers).
    public var address: String
    public var port: Int
    public var connections: Int
    /// Answers before this much time has passed are not counted (connections open, caches warm).
    public var warmUp: Duration
    /// How long answers are counted.
    public var duration: Duration

    public init(address: String = "127.0.0.1", port: Int, connections: Int, warmUp: Duration, duration: Duration) {
        self.address = address
        self.port = port
        self.connections = connections
        self.warmUp = warmUp
        self.duration = duration
    }

    /// Requests per second, latencies and failures of one run.
    public struct Result: Sendable, Codable {
        public var requestsPerSecond: Double
        public var requests: Int
        public var failures: Int
        public var latency: LatencySummary
    }

    /// Runs `path` with `headers` on every connection and returns the counted answers.
    public func run(path: String, headers: [(String, String)], group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Result {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: address)
        for (name, value) in headers { head.headers.replaceOrAdd(name: name, value: value) }
        let start = NIODeadline.now()
        let window = Window(
            countFrom: start + .nanoseconds(warmUp.nanoseconds),
            stopAt: start + .nanoseconds((warmUp + duration).nanoseconds)
        )
        let requestHead = head
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        var finished: [EventLoopFuture<ConnectionTally>] = []
        for _ in 0..<connections {
            let channel = try await bootstrap.connect(host: address, port: port).get()
            let tally = channel.eventLoop.makePromise(of: ConnectionTally.self)
            try await channel.eventLoop.submit {
                let sync = channel.pipeline.syncOperations
                try sync.addHTTPClientHandlers()
                try sync.addHandler(RepeatingRequestHandler(head: requestHead, window: window, done: tally))
            }.get()
            finished.append(tally.futureResult)
        }
        var latencies: [UInt32] = []
        var requests = 0
        var failures = 0
        for future in finished {
            let tally = try await future.get()
            latencies.append(contentsOf: tally.microseconds)
            requests += tally.microseconds.count
            failures += tally.failures
        }
        return Result(
            requestsPerSecond: Double(requests) / duration.seconds,
            requests: requests,
            failures: failures,
            latency: LatencySummary(microseconds: latencies)
        )
    }
}

struct Window: Sendable {
    var countFrom: NIODeadline
    var stopAt: NIODeadline
}

struct ConnectionTally: Sendable {
    var microseconds: [UInt32] = []
    var failures = 0
}

/// Sends `head`, waits for the end of the answer, records it, sends again, until the window ends.
final class RepeatingRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let window: Window
    private let done: EventLoopPromise<ConnectionTally>
    private var tally = ConnectionTally()
    private var sentAt = NIODeadline.now()
    private var succeeded = false
    private var finished = false

    init(head: HTTPRequestHead, window: Window, done: EventLoopPromise<ConnectionTally>) {
        self.head = head
        self.window = window
        self.done = done
        tally.microseconds.reserveCapacity(1 << 16)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { send(context: context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response):
            succeeded = (200..<300).contains(response.status.code)
        case .body:
            break
        case .end:
            let now = NIODeadline.now()
            if sentAt >= window.countFrom && now <= window.stopAt {
                if succeeded {
                    tally.microseconds.append(UInt32(clamping: (now - sentAt).nanoseconds / 1000))
                } else {
                    tally.failures += 1
                }
            }
            if now >= window.stopAt {
                finish(context: context)
            } else {
                send(context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished {
            tally.failures += 1
            finished = true
            done.succeed(tally)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func send(context: ChannelHandlerContext) {
        sentAt = .now()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func finish(context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        done.succeed(tally)
        context.close(promise: nil)
    }
}
