import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// An in-process HTTP CONNECT or SOCKS5 (RFC 1928, username/password per RFC 1929) proxy on 127.0.0.1
/// that counts the tunnels it opens and refuses wrong credentials.
public final class TestProxy: Sendable {
    public enum Kind: Sendable {
        case httpConnect
        case socks5
    }

    /// What the proxy has seen.
    public struct Counts: Sendable, Hashable {
        /// Client connections accepted.
        public var accepted = 0
        /// Tunnels opened to a target.
        public var tunnels = 0
        /// Clients refused for missing or wrong credentials.
        public var refusedCredentials = 0
        /// The targets asked for, as `host:port`.
        public var targets: [String] = []
        /// The local port of each tunnel's connection to its target: what the target sees as the
        /// client's port, so a test can tell which proxy a connection came through.
        public var tunnelSourcePorts: [Int] = []
    }

    public let kind: Kind
    let username: String?
    let password: String?
    private let group: any EventLoopGroup
    private let state = Mutex<(listener: (any Channel)?, counts: Counts)>((nil, Counts()))

    /// A proxy that requires `username` and `password` when they are given, and accepts anyone otherwise.
    public init(kind: Kind, username: String? = nil, password: String? = nil, group: any EventLoopGroup) {
        self.kind = kind
        self.username = username
        self.password = password
        self.group = group
    }

    public func start() async throws {
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    self.update { $0.accepted += 1 }
                    try channel.pipeline.syncOperations.addHandler(ProxyServerHandler(proxy: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        state.withLock { $0.listener = listener }
    }

    public func stop() async {
        let listener = state.withLock { $0.listener }
        try? await listener?.close()
    }

    public var port: Int {
        state.withLock { $0.listener?.localAddress?.port ?? 0 }
    }

    public var counts: Counts {
        state.withLock { $0.counts }
    }

    /// `http://user:pass@127.0.0.1:port` or `socks5://…`, with the given credentials (default: the right ones).
    public func url(username: String? = nil, password: String? = nil) -> String {
        let user = username ?? self.username
        let secret = password ?? self.password
        let credentials = user.map { "\($0):\(secret ?? "")@" } ?? ""
        return "\(kind == .httpConnect ? "http" : "socks5")://\(credentials)127.0.0.1:\(port)"
    }

    func update(_ body: (inout Counts) -> Void) {
        state.withLock { body(&$0.counts) }
    }
}

/// Reads one client's request, checks its credentials, connects to the target and relays bytes both ways.
private final class ProxyServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum SOCKSState {
        case greeting
        case authentication
        case request
    }

    private let proxy: TestProxy
    private var buffer: [UInt8] = []
    private var socksState = SOCKSState.greeting
    private var connecting = false

    init(proxy: TestProxy) {
        self.proxy = proxy
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer += bytes.readBytes(length: bytes.readableBytes) ?? []
        guard !connecting else {
            return
        }
        switch proxy.kind {
        case .httpConnect: readHTTP(context: context)
        case .socks5: readSOCKS(context: context)
        }
    }

    // MARK: HTTP CONNECT

    private func readHTTP(context: ChannelHandlerContext) {
        guard let end = buffer.indices.dropLast(3).first(where: { buffer[$0...].starts(with: [13, 10, 13, 10]) }) else {
            return
        }
        let lines = String(decoding: buffer[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        buffer.removeFirst(end + 4)
        let request = lines[0].split(separator: " ")
        guard request.count == 3, request[0] == "CONNECT", let colon = request[1].lastIndex(of: ":"),
            let port = Int(request[1][request[1].index(after: colon)...])
        else {
            reply(context: context, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", thenClose: true)
            return
        }
        var host = String(request[1][..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        if let username = proxy.username {
            let expected = "basic " + Data("\(username):\(proxy.password ?? "")".utf8).base64EncodedString()
            let given = lines.dropFirst().first { $0.lowercased().hasPrefix("proxy-authorization:") }
                .map { $0.dropFirst("proxy-authorization:".count).trimmingCharacters(in: .whitespaces) }
            guard let given, given.lowercased().hasPrefix("basic "), "basic " + given.dropFirst(6) == expected else {
                proxy.update { $0.refusedCredentials += 1 }
                reply(
                    context: context,
                    "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
                    thenClose: true
                )
                return
            }
        }
        open(context: context, host: host, port: port) { succeeded in
            Array((succeeded ? "HTTP/1.1 200 Connection Established\r\n\r\n" : "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").utf8)
        }
    }

    // MARK: SOCKS5

    private func readSOCKS(context: ChannelHandlerContext) {
        switch socksState {
        case .greeting:
            guard buffer.count >= 2, buffer.count >= 2 + Int(buffer[1]) else {
                return
            }
            let methods = buffer[2..<(2 + Int(buffer[1]))]
            buffer.removeFirst(2 + Int(buffer[1]))
            if proxy.username == nil, methods.contains(0x00) {
                socksState = .request
                reply(context: context, [0x05, 0x00])
            } else if proxy.username != nil, methods.contains(0x02) {
                socksState = .authentication
                reply(context: context, [0x05, 0x02])
            } else {
                proxy.update { $0.refusedCredentials += 1 }
                reply(context: context, [0x05, 0xFF], thenClose: true)
                return
            }
        case .authentication:
            guard buffer.count >= 2, buffer.count >= 3 + Int(buffer[1]),
                buffer.count >= 3 + Int(buffer[1]) + Int(buffer[2 + Int(buffer[1])])
            else {
                return
            }
            let userLength = Int(buffer[1])
            let user = String(decoding: buffer[2..<(2 + userLength)], as: UTF8.self)
            let passwordLength = Int(buffer[2 + userLength])
            let password = String(decoding: buffer[(3 + userLength)..<(3 + userLength + passwordLength)], as: UTF8.self)
            buffer.removeFirst(3 + userLength + passwordLength)
            guard user == proxy.username, password == proxy.password else {
                proxy.update { $0.refusedCredentials += 1 }
                reply(context: context, [0x01, 0x01], thenClose: true)
                return
            }
            socksState = .request
            reply(context: context, [0x01, 0x00])
        case .request:
            guard buffer.count >= 5 else {
                return
            }
            let host: String
            let addressEnd: Int
            switch buffer[3] {
            case 0x01:
                addressEnd = 8
                guard buffer.count >= addressEnd + 2 else { return }
                host = buffer[4..<8].map(String.init).joined(separator: ".")
            case 0x03:
                addressEnd = 5 + Int(buffer[4])
                guard buffer.count >= addressEnd + 2 else { return }
                host = String(decoding: buffer[5..<addressEnd], as: UTF8.self)
            default:
                reply(context: context, [0x05, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0], thenClose: true)
                return
            }
            let port = Int(buffer[addressEnd]) << 8 | Int(buffer[addressEnd + 1])
            buffer.removeFirst(addressEnd + 2)
            open(context: context, host: host, port: port) { succeeded in
                [0x05, succeeded ? 0x00 : 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0]
            }
            return
        }
        if !buffer.isEmpty {
            readSOCKS(context: context)
        }
    }

    // MARK: Tunnel

    /// Connects to the target, sends the answer `answer(succeeded)` builds, then relays.
    private func open(context: ChannelHandlerContext, host: String, port: Int, answer: @escaping (Bool) -> [UInt8]) {
        connecting = true
        proxy.update { $0.targets.append("\(host):\(port)") }
        let inbound = context.channel
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(.seconds(5))
            .channelInitializer { outbound in
                outbound.eventLoop.makeCompletedFuture {
                    try outbound.pipeline.syncOperations.addHandler(RelayHandler(partner: inbound))
                }
            }
            .connect(host: host, port: port)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                let (handler, context) = loopBound.value
                switch result {
                case .success(let outbound):
                    handler.proxy.update {
                        $0.tunnels += 1
                        $0.tunnelSourcePorts.append(outbound.localAddress?.port ?? 0)
                    }
                    handler.reply(context: context, answer(true))
                    if !handler.buffer.isEmpty {
                        outbound.writeAndFlush(context.channel.allocator.buffer(bytes: handler.buffer), promise: nil)
                    }
                    let pipeline = context.pipeline.syncOperations
                    try? pipeline.addHandler(RelayHandler(partner: outbound))
                    pipeline.removeHandler(context: context, promise: nil)
                case .failure:
                    handler.reply(context: context, answer(false), thenClose: true)
                }
            }
    }

    private func reply(context: ChannelHandlerContext, _ text: String, thenClose: Bool = false) {
        reply(context: context, Array(text.utf8), thenClose: thenClose)
    }

    private func reply(context: ChannelHandlerContext, _ bytes: [UInt8], thenClose: Bool = false) {
        let written = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)))
        if thenClose {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// Writes everything read on one side of a tunnel to the other, and closes the other when this one closes.
private final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let partner: any Channel

    init(partner: any Channel) {
        self.partner = partner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
