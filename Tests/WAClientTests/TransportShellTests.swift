import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
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
        let recorder = EventRecorder()
        let events = ConnectionEvents(window: 8, eventLoop: loop, deliver: recorder.record)
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
        let reasons = recorder.terminalReasons
        #expect(reasons.map(\.stage) == [.noise])
        #expect(reasons.map(\.category) == [.timeout])
    }

    @Test func clientShellReportsTheRequestedReasonWhenTheSocketGoes() async throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let recorder = EventRecorder()
        let events = ConnectionEvents(window: 8, eventLoop: loop, deliver: recorder.record)
        let machine = ClientSessionMachine(credentials: .generate(), intent: .pair(.qr))
        try channel.pipeline.syncOperations.addHandler(ClientSessionHandler(machine: machine, events: events))
        _ = try channel.readOutbound(as: ByteBuffer.self)

        let reason = DisconnectReason(stage: .local, category: .shutdown, detail: "lease lost")
        events.closeRequested(reason)
        try await channel.close().get()
        #expect(recorder.terminalReasons == [reason])
    }

    @Test func clientShellTurnsAnOversizedMessageIntoAProtocolViolation() async throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let recorder = EventRecorder()
        let events = ConnectionEvents(window: 8, eventLoop: loop, deliver: recorder.record)
        let machine = ClientSessionMachine(credentials: .generate(), intent: .pair(.qr))
        try channel.pipeline.syncOperations.addHandler(ClientSessionHandler(machine: machine, events: events))
        channel.pipeline.fireErrorCaught(WebSocketMessageHandler.MessageTooLarge())
        #expect(!channel.isActive)
        #expect(recorder.terminalReasons.map(\.category) == [.protocolViolation])
    }

    @Test func aConsumerThatFallsBehindPausesTheSocketAndLosesNothing() async throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let recorder = EventRecorder()
        let events = ConnectionEvents(window: 4, eventLoop: loop, deliver: recorder.record)
        let reads = ReadCounter()
        let shell = ClientSessionHandler(machine: ClientSessionMachine(credentials: .generate(), intent: .pair(.qr)), events: events)
        try channel.pipeline.syncOperations.addHandlers([reads, shell])

        channel.read()
        #expect(reads.count == 1)
        for index in 0..<4 {
            events.yield(.qr(code: "QR-\(index)", validFor: .seconds(20)))
        }
        // Four events in the consumer's hands: the socket is not read until it catches up.
        channel.read()
        #expect(reads.count == 1)
        #expect(events.handled() == false)
        #expect(events.handled())
        shell.resumeReading()
        #expect(reads.count == 2)
        // Every event arrived, in order.
        #expect(recorder.codes == ["QR-0", "QR-1", "QR-2", "QR-3"])
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

    /// What a shell delivered, as its consumer got it.
    final class EventRecorder: Sendable {
        private let events = Mutex<[ClientEvent]>([])

        @Sendable func record(_ event: ClientEvent) {
            events.withLock { $0.append(event) }
        }

        var terminalReasons: [DisconnectReason] {
            events.withLock { events in
                events.compactMap { event in
                    switch event {
                    case .disconnected(let reason), .loggedOut(let reason): reason
                    default: nil
                    }
                }
            }
        }

        var codes: [String] {
            events.withLock { events in events.compactMap { if case .qr(let code, _) = $0 { code } else { nil } } }
        }
    }

    /// Counts the reads that reach the socket.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        private(set) var count = 0

        func read(context: ChannelHandlerContext) {
            count += 1
            context.read()
        }
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
