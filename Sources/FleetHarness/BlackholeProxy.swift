import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy on 127.0.0.1 in front of PostgreSQL (or any TCP server) that can cut traffic the
/// way a partition that drops packets does: `blackhole()` keeps accepting connections and keeps
/// every socket open, but forwards nothing in either direction — no RST, no FIN, bytes wait in
/// the kernel's buffers — until `heal()`, which resumes every connection where it stopped and
/// joins the ones accepted meanwhile to the upstream.
///
/// The kernel on this side still acknowledges what clients send, so a client sees a server
/// that accepts and never answers: only its own deadlines end the wait (TCP keepalives and
/// `tcp_user_timeout` are answered by the kernel here; they matter on a real network).
public final class BlackholeProxy: Sendable {
    /// What the proxy has seen and holds.
    public struct Stats: Sendable, Hashable {
        /// Client connections accepted, also while blackholed.
        public var accepted = 0
        /// Connections joined to the upstream right now.
        public var forwarding = 0
        /// Connections accepted while blackholed, waiting for `heal()` to reach the upstream.
        public var held = 0
        /// Bytes forwarded from clients to the upstream, and back.
        public var bytesToUpstream = 0
        public var bytesFromUpstream = 0
        public var isBlackholed = false
    }

    private struct Link {
        var client: any Channel
        var server: any Channel
    }

    private struct State {
        var listener: (any Channel)?
        var upstream: SocketAddress?
        var links: [ObjectIdentifier: Link] = [:]
        var held: [ObjectIdentifier: any Channel] = [:]
        var stats = Stats()
    }

    private let group: any EventLoopGroup
    private let state = Mutex(State())

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
    }

    /// Listens on 127.0.0.1 and forwards to `upstreamHost`:`upstreamPort`; returns the port.
    public func start(upstreamHost: String, upstreamPort: Int) async throws -> Int {
        try await start(upstream: SocketAddress.makeAddressResolvingHost(upstreamHost, port: upstreamPort))
    }

    /// Listens on 127.0.0.1 and forwards to the Unix socket at `path`, such as PostgreSQL's
    /// `<socket dir>/.s.PGSQL.<port>` (`PostgresCluster` listens on nothing else); returns the port.
    public func start(upstreamUnixSocket path: String) async throws -> Int {
        try await start(upstream: SocketAddress(unixDomainSocketPath: path))
    }

    /// Listens on 127.0.0.1 and forwards to `upstream`; returns the port.
    public func start(upstream: SocketAddress) async throws -> Int {
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Nothing is read before the upstream is joined: the client's first bytes wait in the
            // kernel, as they would behind a partition.
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { [self] client in
                if admit(client) { join(client) }
                return client.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        state.withLock {
            $0.listener = listener
            $0.upstream = upstream
        }
        return listener.localAddress?.port ?? 0
    }

    /// The listening port (0 before `start`).
    public var port: Int {
        state.withLock { $0.listener?.localAddress?.port ?? 0 }
    }

    public var stats: Stats {
        state.withLock { $0.stats }
    }

    /// Stops forwarding on every connection and joins no new one; returns once no byte moves.
    public func blackhole() async {
        let links = state.withLock { state in
            state.stats.isBlackholed = true
            return Array(state.links.values)
        }
        await send(.cut, to: links)
    }

    /// Resumes every connection (what waited is delivered) and joins the held ones.
    public func heal() async {
        let (links, held) = state.withLock { state in
            state.stats.isBlackholed = false
            let held = Array(state.held.values)
            state.held.removeAll()
            state.stats.held = 0
            return (Array(state.links.values), held)
        }
        await send(.heal, to: links)
        held.forEach(join)
    }

    /// Closes the listener and every connection.
    public func stop() async {
        let (listener, channels) = state.withLock { state in
            let channels = state.links.values.flatMap { [$0.client, $0.server] } + Array(state.held.values)
            state.links.removeAll()
            state.held.removeAll()
            return (state.listener, channels)
        }
        try? await listener?.close()
        for channel in channels { try? await channel.close() }
    }

    // MARK: Connections

    /// Counts an accepted client; false when it must wait for `heal()`.
    private func admit(_ client: any Channel) -> Bool {
        state.withLock { state in
            state.stats.accepted += 1
            guard state.stats.isBlackholed else { return true }
            state.held[ObjectIdentifier(client)] = client
            state.stats.held += 1
            return false
        }
    }

    /// Connects `client` to the upstream and relays between them.
    private func join(_ client: any Channel) {
        guard let upstream = state.withLock({ $0.upstream }) else { return }
        ClientBootstrap(group: client.eventLoop)
            .channelOption(.autoRead, value: false)
            .connect(to: upstream)
            .whenComplete { [self] result in
                switch result {
                case .success(let server):
                    link(client, server)
                case .failure:
                    client.close(promise: nil)
                }
            }
    }

    /// Runs on the client's event loop (the server channel shares it).
    private func link(_ client: any Channel, _ server: any Channel) {
        // Registered and read under one lock with `blackhole()`: either it sends this link the
        // cut, or the link starts cut.
        let isCut = state.withLock { state in
            state.links[ObjectIdentifier(client)] = Link(client: client, server: server)
            state.stats.forwarding = state.links.count
            return state.stats.isBlackholed
        }
        do {
            try client.pipeline.syncOperations.addHandler(RelayHandler(proxy: self, partner: server, direction: .toUpstream, isCut: isCut))
            try server.pipeline.syncOperations.addHandler(RelayHandler(proxy: self, partner: client, direction: .fromUpstream, isCut: isCut))
        } catch {
            client.close(promise: nil)
            server.close(promise: nil)
            return
        }
        if !isCut {
            try? client.syncOptions?.setOption(.autoRead, value: true)
            try? server.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    fileprivate func unlink(_ channel: any Channel) {
        state.withLock { state in
            state.links[ObjectIdentifier(channel)] = nil
            state.stats.forwarding = state.links.count
        }
    }

    fileprivate func count(_ bytes: Int, _ direction: RelayHandler.Direction) {
        state.withLock { state in
            switch direction {
            case .toUpstream: state.stats.bytesToUpstream += bytes
            case .fromUpstream: state.stats.bytesFromUpstream += bytes
            }
        }
    }

    /// Delivers `event` to both handlers of every link, on their event loop, and waits for it.
    private func send(_ event: ProxyEvent, to links: [Link]) async {
        for link in links {
            for channel in [link.client, link.server] {
                try? await channel.eventLoop.submit {
                    channel.pipeline.fireUserInboundEventTriggered(event)
                }.get()
            }
        }
    }
}

private enum ProxyEvent: Sendable {
    case cut
    case heal
}

/// Forwards what one side reads to the other; while cut it reads nothing more and keeps what
/// was already read until healed.
private final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    enum Direction {
        case toUpstream
        case fromUpstream
    }

    private let proxy: BlackholeProxy
    private let partner: any Channel
    private let direction: Direction
    private var isCut: Bool
    private var held: [ByteBuffer] = []

    init(proxy: BlackholeProxy, partner: any Channel, direction: Direction, isCut: Bool) {
        self.proxy = proxy
        self.partner = partner
        self.direction = direction
        self.isCut = isCut
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if isCut {
            held.append(buffer)
        } else {
            forward(buffer)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ProxyEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch event {
        case .cut:
            isCut = true
            try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        case .heal:
            isCut = false
            held.forEach(forward)
            held.removeAll()
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        proxy.unlink(direction == .toUpstream ? context.channel : partner)
        partner.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func forward(_ buffer: ByteBuffer) {
        proxy.count(buffer.readableBytes, direction)
        partner.writeAndFlush(buffer, promise: nil)
    }
}
