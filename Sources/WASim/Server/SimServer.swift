#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization
import WebSocketMessages

/// The simulator's WebSocket listener: plain or TLS, upgrades only `GET <path>` (default `/ws/chat`) and
/// hands each open socket to `connectionHandler`, which adds the handler that runs the connection (its
/// inbound and outbound messages are whole binary WebSocket messages as `ByteBuffer`s).
///
/// Per connection it keeps only the channel in a table (to close them all on `stop()`); the HTTP handlers
/// leave the pipeline after the upgrade.
public final class SimServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 picks a free port; `port` tells which after `start()`.
        public var port = 0
        /// The only path that is upgraded; other requests get 404.
        public var path = "/ws/chat"
        /// A server context makes it `wss://` (see `SimCertificates`).
        public var tls: NIOSSLContext?
        /// The largest WebSocket message accepted (the frame format allows 16 MiB).
        public var maximumMessageSize = 1 << 24

        public init(host: String = "127.0.0.1", port: Int = 0, tls: NIOSSLContext? = nil) {
            self.host = host
            self.port = port
            self.tls = tls
        }
    }

    /// What to do with an upgrade request on the right path.
    public enum UpgradeDecision: Sendable, Hashable {
        case accept
        /// Answer with this HTTP status instead of 101 (a refused upgrade fault).
        case refuse(HTTPResponseStatus)
    }

    private struct State {
        var listener: (any Channel)?
        var port: Int?
        var refusing = false
        /// While refusing: a socket bound to the port but not listening. It keeps the port ours
        /// (nothing else can take it meanwhile) and makes the kernel answer connects with RST.
        var holder: Int32?
        var connections: [ObjectIdentifier: any Channel] = [:]
    }

    private let configuration: Configuration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let decide: @Sendable (HTTPRequestHead) -> UpgradeDecision
    private let connectionHandler: @Sendable (any Channel) throws -> Void
    private let state = Mutex(State())

    /// `decide` runs for every upgrade request on the path; `connectionHandler` runs on the connection's
    /// event loop once its WebSocket is open and adds the handler that serves it.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup,
        logger: Logger,
        decide: @escaping @Sendable (HTTPRequestHead) -> UpgradeDecision = { _ in .accept },
        connectionHandler: @escaping @Sendable (any Channel) throws -> Void
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.decide = decide
        self.connectionHandler = connectionHandler
    }

    /// The bound port, once started.
    public var port: Int? {
        state.withLock { $0.port }
    }

    /// The URL clients connect to, once started.
    public var url: String? {
        guard let port else {
            return nil
        }
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "\(configuration.tls == nil ? "ws" : "wss")://\(host):\(port)\(configuration.path)"
    }

    /// How many WebSockets (and sockets still upgrading) are open.
    public var connectionCount: Int {
        state.withLock { $0.connections.count }
    }

    /// Binds the listener.
    public func start() async throws {
        let listener = try await bind(port: configuration.port)
        state.withLock { state in
            state.listener = listener
            state.port = listener.localAddress?.port
        }
        logger.info("simulator listening", metadata: ["url": "\(url ?? "")"])
    }

    /// While refusing, the listener is closed so that connects fail with "connection refused" (the
    /// `refuse connections` fault); turning it off binds the same port again.
    public func setRefusingConnections(_ refusing: Bool) async throws {
        let (listener, port) = state.withLock { state -> ((any Channel)?, Int?) in
            guard state.refusing != refusing else {
                return (nil, nil)
            }
            state.refusing = refusing
            defer { state.listener = nil }
            return (state.listener, state.port)
        }
        if refusing {
            // Close the listener, then hold the port at once with a bound, never-listening socket
            // without SO_REUSEPORT: connects are refused by the kernel, and neither an outgoing
            // connection (a self-connect) nor a port-0 listener gets the port meanwhile.
            try await listener?.close()
            if let port {
                do {
                    let holder = try PortHolder.hold(host: configuration.host, port: port)
                    state.withLock { $0.holder = holder }
                } catch {
                    logger.warning("could not hold the refused port", metadata: ["error": "\(error)"])
                }
            }
        } else if let port {
            if let holder = state.withLock({ state -> Int32? in defer { state.holder = nil }; return state.holder }) {
                PortHolder.release(holder)
            }
            let listener = try await bind(port: port)
            state.withLock { $0.listener = listener }
        }
    }

    /// Closes the listener and every connection.
    public func stop() async {
        let (listener, connections) = state.withLock { state in
            defer {
                state.listener = nil
                state.connections = [:]
            }
            return (state.listener, Array(state.connections.values))
        }
        try? await listener?.close()
        if let holder = state.withLock({ state -> Int32? in defer { state.holder = nil }; return state.holder }) {
            PortHolder.release(holder)
        }
        for connection in connections {
            try? await connection.close()
        }
    }

    private func bind(port: Int) async throws -> any Channel {
        try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.configure(channel)
                }
            }
            .bind(host: configuration.host, port: port)
            .get()
    }

    private func configure(_ channel: any Channel) throws {
        let id = ObjectIdentifier(channel)
        state.withLock { $0.connections[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: id) }
        }
        let pipeline = channel.pipeline.syncOperations
        if let tls = configuration.tls {
            try pipeline.addHandler(NIOSSLServerHandler(context: tls))
        }
        let refusal = UpgradeRefusalHandler()
        let boundRefusal = NIOLoopBound(refusal, eventLoop: channel.eventLoop)
        let path = configuration.path
        let maximumMessageSize = configuration.maximumMessageSize
        let decide = decide
        let connectionHandler = connectionHandler
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: maximumMessageSize,
            shouldUpgrade: { channel, head in
                guard head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) == path else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                switch decide(head) {
                case .accept:
                    return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                case .refuse(let status):
                    boundRefusal.value.status = status
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    channel.pipeline.syncOperations.removeHandler(boundRefusal.value, promise: nil)
                    try channel.pipeline.syncOperations.addHandler(WebSocketMessageHandler(role: .server, maximumMessageSize: maximumMessageSize))
                    try connectionHandler(channel)
                }
            }
        )
        try pipeline.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in })
        )
        try pipeline.addHandler(refusal)
    }
}

/// Answers every request that was not upgraded: 404 off the path, or the status `decide` chose, then closes.
private final class UpgradeRefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    var status = HTTPResponseStatus.notFound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else {
            return
        }
        let body = context.channel.allocator.buffer(string: "\(status.code) \(status.reasonPhrase)\n")
        var head = HTTPResponseHead(version: .http1_1, status: status)
        head.headers.add(name: "Content-Type", value: "text/plain")
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        head.headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// A bound, never-listening TCP socket without port reuse: connections to its port are refused by
/// the kernel, and no connection's ephemeral port or port-0 listener takes it while it is held.
enum PortHolder {
    static func hold(host: String, port: Int) throws -> Int32 {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let family: Int32 = if case .v6 = address { AF_INET6 } else { AF_INET }
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        // SO_REUSEADDR (not SO_REUSEPORT): connections the closed listener accepted may still
        // hold the port (TIME_WAIT), which would refuse the bind. Only a socket binding this
        // exact port with SO_REUSEADDR could share it (port-0 binds pick unused ports first, and
        // outgoing connections never take a bound port).
        var one: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { pointer, length in bind(descriptor, pointer, socklen_t(length)) }
        guard bound == 0 else {
            let code = errno
            close(descriptor)
            throw IOError(errnoCode: code, reason: "bind")
        }
        return descriptor
    }

    static func release(_ descriptor: Int32) {
        close(descriptor)
    }
}
