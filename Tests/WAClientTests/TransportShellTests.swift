import Foundation
import NIOCore
import NIOEmbedded
import Testing
@testable import WAClient
@testable import WASim
import WAWire
import WebSocketMessages

/// The handlers that run the session machines, on an EmbeddedChannel: writes, timers on the loop's clock,
/// events and the close, with no socket.
@Suite("Session shells on an embedded channel")
struct TransportShellTests {
    @Test func clientShellSendsClientHelloAndTimesOutOnTheLoopsClock() async throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let events = ConnectionEvents(bufferSize: 8, eventLoop: loop)
        var configuration = ClientSessionMachine.Configuration()
        configuration.timeouts.handshake = .seconds(5)
        let machine = ClientSessionMachine(credentials: .generate(), intent: .pair(.qr), configuration: configuration)
        try channel.pipeline.syncOperations.addHandler(ClientSessionHandler(machine: machine, events: events))

        let hello = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(hello.readableBytesView.prefix(4)) == FrameWriter.intro)
        loop.advanceTime(by: .seconds(4))
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        #expect(events.hasEnded)
        let reasons = await Self.terminalReasons(events)
        #expect(reasons.map(\.stage) == [.noise])
        #expect(reasons.map(\.category) == [.timeout])
    }

    @Test func clientShellReportsTheRequestedReasonWhenTheSocketGoes() async throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let events = ConnectionEvents(bufferSize: 8, eventLoop: loop)
        let machine = ClientSessionMachine(credentials: .generate(), intent: .pair(.qr))
        try channel.pipeline.syncOperations.addHandler(ClientSessionHandler(machine: machine, events: events))
        _ = try channel.readOutbound(as: ByteBuffer.self)

        let reason = DisconnectReason(stage: .local, category: .shutdown, detail: "lease lost")
        events.closeRequested(reason)
        try await channel.close().get()
        #expect(await Self.terminalReasons(events) == [reason])
    }

    @Test func clientShellTurnsAnOversizedMessageIntoAProtocolViolation() async throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let events = ConnectionEvents(bufferSize: 8, eventLoop: loop)
        let machine = ClientSessionMachine(credentials: .generate(), intent: .pair(.qr))
        try channel.pipeline.syncOperations.addHandler(ClientSessionHandler(machine: machine, events: events))
        channel.pipeline.fireErrorCaught(WebSocketMessageHandler.MessageTooLarge())
        #expect(!channel.isActive)
        #expect(await Self.terminalReasons(events).map(\.category) == [.protocolViolation])
    }

    @Test func simShellClosesARefusedConnectionAndTellsTheWorld() async throws {
        let channel = EmbeddedChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let world = SimWorld(planFaults: { _ in SimConnectionFaults(refuse: true) })
        try SimConnectionHandler.install(on: channel, world: world, configuration: Self.serverConfiguration())
        #expect(!channel.isActive)
        #expect(world.liveConnections.isEmpty)
    }

    @Test func simShellEndsAHandshakeThatNeverStartsOnTheLoopsClock() async throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let world = SimWorld()
        var configuration = Self.serverConfiguration()
        configuration.handshakeTimeout = .seconds(3)
        try SimConnectionHandler.install(on: channel, world: world, configuration: configuration)
        #expect(world.liveConnections.count == 1)
        loop.advanceTime(by: .seconds(3))
        #expect(!channel.isActive)
        #expect(world.liveConnections.isEmpty)
    }

    /// The terminal events of a stream that has ended (so reading it never waits).
    private static func terminalReasons(_ events: ConnectionEvents) async -> [DisconnectReason] {
        var reasons: [DisconnectReason] = []
        for await event in events.stream {
            switch event {
            case .disconnected(let reason), .loggedOut(let reason): reasons.append(reason)
            default: continue
            }
        }
        return reasons
    }

    private static func serverConfiguration() -> SimConnectionMachine.Configuration {
        let root = Curve25519KeyPair.generate()
        let intermediate = Curve25519KeyPair.generate()
        let staticKey = Curve25519KeyPair.generate()
        let now = UInt64(Date().timeIntervalSince1970)
        let chain = CertificateChain.issue(
            rootKey: root, intermediateKey: intermediate, serverStaticKey: staticKey.publicKey,
            notBefore: now - 3600, notAfter: now + 3600
        )
        return SimConnectionMachine.Configuration(staticKey: staticKey, certificateChain: chain)
    }
}
