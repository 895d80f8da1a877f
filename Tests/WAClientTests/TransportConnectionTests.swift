import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PairgateTestSupport
import Synchronization
import Testing
@testable import WAClient
import WASim

/// The client transport against the simulator's WebSocket server over loopback, with an echo behind the
/// upgrade: every path (plain, TLS, both proxies) and every stage a failure can be classified in.
@Suite("Transport over loopback")
struct TransportConnectionTests {
    @Test func plainWebSocketCarriesBinaryMessagesBothWays() async throws {
        try await EchoServer.with { server in
            let (channel, messages) = try await server.open(server.transport()).get()
            try await channel.writeAndFlush(ByteBuffer(bytes: [1, 2, 3]))
            #expect(await messages.next() == [1, 2, 3])
            #expect(server.origins() == ["https://web.whatsapp.com"])
            try await channel.close()
        }
    }

    @Test func largeMessagesArriveWhole() async throws {
        try await EchoServer.with { server in
            let (channel, messages) = try await server.open(server.transport()).get()
            let large = [UInt8]((0..<200_000).map { UInt8(truncatingIfNeeded: $0) })
            try await channel.writeAndFlush(ByteBuffer(bytes: large))
            #expect(await messages.next() == large)
            try await channel.close()
        }
    }

    @Test func tlsWithTheTestCertificateAuthority() async throws {
        let certificates = try SimCertificates.generate()
        try await EchoServer.with(tls: certificates) { server in
            var transport = server.transport()
            transport.tls = try ClientTLS(trustRoots: .pem(Array(certificates.caPEM.utf8))).context
            let (channel, messages) = try await server.open(transport).get()
            try await channel.writeAndFlush(ByteBuffer(bytes: [9]))
            #expect(await messages.next() == [9])
            try await channel.close()
        }
    }

    @Test func tlsWithAnotherAuthorityFailsInTheTLSStage() async throws {
        let certificates = try SimCertificates.generate()
        let stranger = try SimCertificates.generate()
        try await EchoServer.with(tls: certificates) { server in
            var transport = server.transport()
            transport.tls = try ClientTLS(trustRoots: .pem(Array(stranger.caPEM.utf8))).context
            let reason = try #require(try await server.open(transport).failure)
            #expect(reason.stage == .tls)
            #expect(reason.category == .certificateRejected)
        }
    }

    @Test(arguments: [TestProxy.Kind.httpConnect, .socks5])
    func proxiesTunnelWithCredentials(kind: TestProxy.Kind) async throws {
        try await EchoServer.with { server in
            let proxy = TestProxy(kind: kind, username: "alice", password: "s3cret", group: server.group)
            try await proxy.start()
            var transport = server.transport()
            let proxyConfiguration = try #require(ProxyConfiguration(url: proxy.url()))
            transport.proxy = proxyConfiguration
            let (channel, messages) = try await server.open(transport).get()
            try await channel.writeAndFlush(ByteBuffer(bytes: [4, 2]))
            #expect(await messages.next() == [4, 2])
            #expect(proxy.counts.tunnels == 1)
            #expect(proxy.counts.targets == ["127.0.0.1:\(server.port)"])
            try await channel.close()
            await proxy.stop()
        }
    }

    @Test(arguments: [TestProxy.Kind.httpConnect, .socks5])
    func proxiesRefusingCredentialsFailInTheProxyStage(kind: TestProxy.Kind) async throws {
        try await EchoServer.with { server in
            let proxy = TestProxy(kind: kind, username: "alice", password: "s3cret", group: server.group)
            try await proxy.start()
            var transport = server.transport()
            let proxyConfiguration = try #require(ProxyConfiguration(url: proxy.url(password: "wrong")))
            transport.proxy = proxyConfiguration
            let reason = try #require(try await server.open(transport).failure)
            #expect(reason.stage == .proxy)
            #expect(reason.category == .network)
            #expect(proxy.counts.refusedCredentials == 1)
            #expect(proxy.counts.tunnels == 0)
            await proxy.stop()
        }
    }

    @Test func tlsThroughASOCKS5Proxy() async throws {
        let certificates = try SimCertificates.generate()
        try await EchoServer.with(tls: certificates) { server in
            let proxy = TestProxy(kind: .socks5, username: "u", password: "p", group: server.group)
            try await proxy.start()
            var transport = server.transport()
            transport.tls = try ClientTLS(trustRoots: .pem(Array(certificates.caPEM.utf8))).context
            let proxyConfiguration = try #require(ProxyConfiguration(url: proxy.url()))
            transport.proxy = proxyConfiguration
            let (channel, messages) = try await server.open(transport).get()
            try await channel.writeAndFlush(ByteBuffer(bytes: [7]))
            #expect(await messages.next() == [7])
            try await channel.close()
            await proxy.stop()
        }
    }

    @Test func unresolvableHostFailsInTheDNSStage() async throws {
        try await EchoServer.with { server in
            var transport = server.transport()
            transport.endpoint = UpstreamEndpoint(secure: false, host: "pairgate-test.invalid", port: 80)
            let reason = try #require(try await server.open(transport).failure)
            #expect(reason.stage == .dns)
            #expect(reason.category == .network)
        }
    }

    @Test func closedPortFailsInTheTCPStage() async throws {
        try await EchoServer.with { server in
            try await server.server.setRefusingConnections(true)
            let reason = try #require(try await server.open(server.transport()).failure)
            #expect(reason.stage == .tcp)
            #expect(reason.category == .network)
            #expect(reason.detail.contains("connection refused"))
            try await server.server.setRefusingConnections(false)
            let (channel, _) = try await server.open(server.transport()).get()
            try await channel.close()
        }
    }

    @Test func refusedUpgradeFailsInTheWebSocketStageWithItsStatus() async throws {
        try await EchoServer.with(decide: { _ in .refuse(.serviceUnavailable) }) { server in
            let reason = try #require(try await server.open(server.transport()).failure)
            #expect(reason.stage == .websocket)
            #expect(reason.code == 503)
            #expect(reason.category == .serverError)
        }
    }

    @Test func wrongPathIsAPlainHTTPAnswerInTheWebSocketStage() async throws {
        try await EchoServer.with { server in
            var transport = server.transport()
            transport.endpoint.target = "/somewhere-else"
            let reason = try #require(try await server.open(transport).failure)
            #expect(reason.stage == .websocket)
            #expect(reason.code == 404)
            #expect(reason.category == .other)
        }
    }

    @Test func silentServerTimesOutInTheStageItIsIn() async throws {
        try await EchoServer.with { server in
            let silent = try await ServerBootstrap(group: server.group).bind(host: "127.0.0.1", port: 0).get()
            var transport = server.transport()
            transport.endpoint.port = try #require(silent.localAddress?.port)
            transport.timeouts.handshake = .milliseconds(200)
            let reason = try #require(try await server.open(transport).failure)
            #expect(reason.stage == .websocket)
            #expect(reason.category == .timeout)
            transport.endpoint.secure = true
            transport.tls = try ClientTLS(trustRoots: .pem(Array(try SimCertificates.generate().caPEM.utf8))).context
            let tlsReason = try #require(try await server.open(transport).failure)
            #expect(tlsReason.stage == .tls)
            #expect(tlsReason.category == .timeout)
            try await silent.close()
        }
    }

    @Test func serverClosingDuringTheUpgradeIsANetworkFailureOfThatStage() async throws {
        try await EchoServer.with { server in
            let rude = try await ServerBootstrap(group: server.group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(CloseOnRead())
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            var transport = server.transport()
            transport.endpoint.port = try #require(rude.localAddress?.port)
            let reason = try #require(try await server.open(transport).failure)
            #expect(reason.stage == .websocket)
            #expect(reason.category == .network)
            try await rude.close()
        }
    }
}

/// Closes the connection as soon as anything arrives.
private final class CloseOnRead: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.close(promise: nil)
    }
}

/// A `SimServer` whose connections echo every binary message, and a way to open client transports to it.
struct EchoServer {
    let group: MultiThreadedEventLoopGroup
    let server: SimServer
    let port: Int
    private let origin: OriginLog

    static func with(
        tls: SimCertificates? = nil,
        decide: @escaping @Sendable (HTTPRequestHead) -> SimServer.UpgradeDecision = { _ in .accept },
        _ body: (EchoServer) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let origin = OriginLog()
        let server = SimServer(
            configuration: SimServer.Configuration(tls: try tls?.makeServerContext()),
            eventLoopGroup: group,
            logger: Logger(label: "test"),
            decide: { head in
                origin.record(head.headers["Origin"].first ?? "")
                return decide(head)
            },
            connectionHandler: { channel in try channel.pipeline.syncOperations.addHandler(Echo()) }
        )
        try await server.start()
        let echo = EchoServer(group: group, server: server, port: server.port ?? 0, origin: origin)
        do {
            try await body(echo)
        } catch {
            await server.stop()
            try await group.shutdownGracefully()
            throw error
        }
        await server.stop()
        try await group.shutdownGracefully()
    }

    func origins() -> [String] {
        origin.values
    }

    func transport() -> UpstreamTransport {
        var headers = HTTPHeaders()
        headers.add(name: "Origin", value: "https://web.whatsapp.com")
        return UpstreamTransport(
            endpoint: UpstreamEndpoint(secure: server.url?.hasPrefix("wss") ?? false, host: "127.0.0.1", port: port),
            headers: headers,
            tls: nil,
            proxy: nil,
            timeouts: .init(connect: .seconds(5), handshake: .seconds(5)),
            maximumMessageSize: 1 << 24
        )
    }

    /// Connects; the channel with its received messages, or the classified failure.
    func open(_ transport: UpstreamTransport) async throws -> OpenResult {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: OpenResult.self)
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        _ = transport.connect(
            on: eventLoop,
            failed: { reason in promise.succeed(.failure(reason)) },
            upgraded: { channel in
                try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                promise.succeed(.success(channel, Messages(iterator: stream.makeAsyncIterator())))
            }
        )
        return try await promise.futureResult.get()
    }
}

enum OpenResult: Sendable {
    case success(any Channel, Messages)
    case failure(DisconnectReason)

    var failure: DisconnectReason? {
        if case .failure(let reason) = self { reason } else { nil }
    }

    func get() throws -> (any Channel, Messages) {
        switch self {
        case .success(let channel, let messages): return (channel, messages)
        case .failure(let reason): throw OpenFailed(reason: reason)
        }
    }

    struct OpenFailed: Error {
        let reason: DisconnectReason
    }
}

/// The binary messages a test client received, in order.
final class Messages: @unchecked Sendable {
    private var iterator: AsyncStream<[UInt8]>.AsyncIterator

    init(iterator: AsyncStream<[UInt8]>.AsyncIterator) {
        self.iterator = iterator
    }

    func next() async -> [UInt8]? {
        await iterator.next()
    }
}

final class OriginLog: Sendable {
    private let storage = Mutex<[String]>([])

    func record(_ origin: String) {
        storage.withLock { $0.append(origin) }
    }

    var values: [String] {
        storage.withLock { $0 }
    }
}

private final class Echo: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

private final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let continuation: AsyncStream<[UInt8]>.Continuation

    init(continuation: AsyncStream<[UInt8]>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        continuation.yield(buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
}
