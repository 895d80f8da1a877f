import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A webhook receiver on 127.0.0.1 (plain or TLS) whose answers the test scripts: a status with
/// headers, no answer at all, an endless body, or an answer held until the test releases it. It
/// records what it received and how many requests it had in flight at most.
final class TestReceiver: Sendable {
    enum Reply: Sendable {
        case status(Int, headers: [(String, String)] = [], body: [UInt8] = [])
        /// Reads the request and never answers.
        case hang
        /// 200 with a chunked body that never ends, written as fast as the client reads.
        case endlessBody
        /// Answers with this status once the test calls `releaseHeld()`.
        case held(Int)
    }

    struct Received: Sendable {
        var method: String
        var uri: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    private struct State {
        var received: [Received] = []
        var inFlight = 0
        var maximumInFlight = 0
        var held: [@Sendable () -> Void] = []
        var released = false
        var closedConnections = 0
    }

    private let state = Mutex(State())
    private let listener = Mutex<(any Channel)?>(nil)

    /// Starts a receiver; `reply` gets the 0-based index of the request and the request.
    static func start(
        tls: NIOSSLContext? = nil,
        reply: @escaping @Sendable (Int, Received) -> Reply
    ) async throws -> TestReceiver {
        let receiver = TestReceiver()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ReceiverHandler(receiver: receiver, reply: reply))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        receiver.listener.withLock { $0 = channel }
        return receiver
    }

    var port: Int { listener.withLock { $0?.localAddress?.port ?? 0 } }

    func stop() async {
        releaseHeld()
        try? await listener.withLock { $0 }?.close()
    }

    var received: [Received] { state.withLock { $0.received } }
    var maximumInFlight: Int { state.withLock { $0.maximumInFlight } }
    var inFlight: Int { state.withLock { $0.inFlight } }
    /// Client connections that closed (a body cap closes the connection).
    var closedConnections: Int { state.withLock { $0.closedConnections } }

    /// Answers every held request, and those that arrive later at once.
    func releaseHeld() {
        let held = state.withLock { state in
            state.released = true
            defer { state.held = [] }
            return state.held
        }
        held.forEach { $0() }
    }

    fileprivate func begin(_ request: Received) -> Int {
        state.withLock { state in
            state.received.append(request)
            state.inFlight += 1
            state.maximumInFlight = max(state.maximumInFlight, state.inFlight)
            return state.received.count - 1
        }
    }

    fileprivate func end() {
        state.withLock { $0.inFlight -= 1 }
    }

    fileprivate func connectionClosed() {
        state.withLock { $0.closedConnections += 1 }
    }

    /// Runs `answer` once released (at once when already released).
    fileprivate func hold(_ answer: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.released { return true }
            state.held.append(answer)
            return false
        }
        if now { answer() }
    }
}

private final class ReceiverHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let receiver: TestReceiver
    private let reply: @Sendable (Int, TestReceiver.Received) -> TestReceiver.Reply
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var streaming = false
    private var open = true

    init(receiver: TestReceiver, reply: @escaping @Sendable (Int, TestReceiver.Received) -> TestReceiver.Reply) {
        self.receiver = receiver
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            let request = TestReceiver.Received(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body
            )
            let index = receiver.begin(request)
            answer(reply(index, request), context: context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if streaming { pump(context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        open = false
        if streaming { receiver.end() }
        streaming = false
        receiver.connectionClosed()
        context.fireChannelInactive()
    }

    private func answer(_ reply: TestReceiver.Reply, context: ChannelHandlerContext) {
        switch reply {
        case .status(let code, let headers, let body):
            respond(code, headers: headers, body: body, context: context)
        case .hang:
            break
        case .endlessBody:
            var headers = HTTPHeaders()
            headers.add(name: "transfer-encoding", value: "chunked")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            streaming = true
            pump(context: context)
        case .held(let code):
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            receiver.hold {
                loop.execute {
                    let (handler, context) = bound.value
                    if handler.open { handler.respond(code, headers: [], body: [], context: context) }
                }
            }
        }
    }

    private func respond(_ code: Int, headers extra: [(String, String)], body: [UInt8], context: ChannelHandlerContext) {
        var headers = HTTPHeaders(extra)
        headers.add(name: "content-length", value: String(body.count))
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: code), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        receiver.end()
    }

    /// Writes 64 KiB chunks while the socket takes them; resumes when it becomes writable again.
    private func pump(context: ChannelHandlerContext) {
        let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 65_536)
        while open, context.channel.isWritable {
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
        }
    }
}

extension TestReceiver {
    /// Runs `body` with a started receiver and stops it afterwards, whatever happens.
    static func with(
        tls: NIOSSLContext? = nil,
        reply: @escaping @Sendable (Int, Received) -> Reply,
        _ body: (TestReceiver) async throws -> Void
    ) async throws {
        let receiver = try await start(tls: tls, reply: reply)
        do {
            try await body(receiver)
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }
}
