import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import WAClient
import WAWire

/// Flow control against a consumer that awaits an answer: the client shell on an embedded channel,
/// behind a gate that hands it the server's bytes only when it asks for a read, as a socket does.
@Suite("Flow control with requests in flight")
struct TransportFlowControlTests {
    /// Holds the server's messages until the pipeline asks for a read, then passes one on.
    final class ReadGate: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        typealias OutboundIn = ByteBuffer
        private var waiting: [ByteBuffer] = []
        private(set) var reads = 0

        var pending: Int { waiting.count }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            waiting.append(unwrapInboundIn(data))
        }

        func read(context: ChannelHandlerContext) {
            reads += 1
            guard !waiting.isEmpty else { return }
            context.fireChannelRead(wrapInboundOut(waiting.removeFirst()))
            context.fireChannelReadComplete()
        }
    }

    final class Consumer: Sendable {
        private let received = Mutex<[ClientEvent]>([])
        @Sendable func deliver(_ event: ClientEvent) { received.withLock { $0.append(event) } }
        var stanzaIDs: [String] {
            received.withLock { events in events.compactMap { if case .stanza(let node) = $0 { node.attribute("id") } else { nil } } }
        }
        var count: Int { received.withLock { $0.count } }
    }

    /// The shell and a scripted server, connected through the gate.
    struct Link {
        let channel: EmbeddedChannel
        let gate = ReadGate()
        let shell: ClientSessionHandler
        let events: ConnectionEvents
        let consumer = Consumer()
        var server: ScriptedServer

        init(window: Int) throws {
            let loop = EmbeddedEventLoop()
            channel = EmbeddedChannel(loop: loop)
            let keys = TestServerKeys(around: Date())
            server = ScriptedServer(keys: keys)
            events = ConnectionEvents(window: window, eventLoop: loop, deliver: consumer.deliver)
            let machine = ClientSessionMachine(
                credentials: ScriptedSession.pairedCredentials(), intent: .login, configuration: keys.clientConfiguration()
            )
            shell = ClientSessionHandler(machine: machine, events: events)
            // Added to an open channel, as after the WebSocket upgrade: the shell writes ClientHello.
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try channel.pipeline.syncOperations.addHandlers([gate, shell])
        }

        /// What the client wrote since last asked, answered by the scripted server (handshake replies
        /// are queued at the gate); returns the stanzas.
        mutating func clientWrites() throws -> [Node] {
            var nodes: [Node] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
                let (reply, read) = try server.read(Array(buffer.readableBytesView))
                if let reply { try channel.writeInbound(ByteBuffer(bytes: reply)) }
                nodes += read
            }
            return nodes
        }

        /// The server sends `node`; it waits at the gate.
        mutating func serverSends(_ node: Node) throws {
            try channel.writeInbound(ByteBuffer(bytes: try server.frame(node)))
        }

        /// Reads as a socket with autoRead would: one message per read, until nothing is left or the
        /// shell stops asking.
        func pump() {
            while gate.pending > 0 {
                let before = gate.reads
                channel.read()
                if gate.reads == before { return }
            }
        }

        /// The consumer handles everything delivered so far.
        func handleAll(_ count: Int) {
            for _ in 0..<count where events.handled() { shell.resumeReading() }
        }
    }

    @Test func anAnswerTheConsumerAwaitsIsReadEvenWhileItsEventsPauseTheSocket() throws {
        var link = try Link(window: 4)
        // Handshake and login, as the server would have it.
        try channelActive(&link)
        link.pump()
        _ = try link.clientWrites()
        try link.serverSends(Node("success", ["t": "1760000000"]))
        link.pump()
        let count = try #require(try link.clientWrites().last?.attribute("id"))
        try link.serverSends(ServerStanzas.result(id: count, [Node("count", ["value": "100"])]))
        link.pump()
        let passive = try #require(try link.clientWrites().last?.attribute("id"))
        try link.serverSends(ServerStanzas.result(id: passive))
        link.pump()
        link.handleAll(link.consumer.count)

        // Four messages the consumer does not handle yet: the socket is no longer read.
        for index in 1...5 {
            try link.serverSends(Node("message", ["from": .jid(JID(user: "1", server: .lid)), "id": .string("M\(index)"), "t": "1"]))
        }
        link.pump()
        #expect(link.consumer.stanzaIDs == ["M1", "M2", "M3", "M4"])
        #expect(link.gate.pending == 1)

        // The consumer, still holding them, asks something and awaits the answer. The answer is queued
        // behind M5: the shell reads on while the request is out, so both arrive.
        let answer = link.channel.eventLoop.makePromise(of: Node.self)
        let answered = Mutex<Node?>(nil)
        answer.futureResult.whenSuccess { node in answered.withLock { $0 = node } }
        link.shell.request(ClientRequestID(1), .iq(Node("iq", ["xmlns": "usync", "type": "get"]), timeout: nil), promise: answer)
        let iq = try #require(try link.clientWrites().last?.attribute("id"))
        try link.serverSends(ServerStanzas.result(id: iq, [Node("usync")]))
        link.pump()
        #expect(answered.withLock { $0?.child("usync") } != nil)
        #expect(link.consumer.stanzaIDs == ["M1", "M2", "M3", "M4", "M5"])

        // Answered: the socket pauses again until the consumer catches up.
        try link.serverSends(Node("message", ["from": .jid(JID(user: "1", server: .lid)), "id": "M6", "t": "1"]))
        link.pump()
        #expect(link.gate.pending == 1)
        link.handleAll(5)
        link.pump()
        #expect(link.consumer.stanzaIDs.last == "M6")
    }

    @Test func answersToDeliveredStanzasAreWrittenAndFlushedInOrder() throws {
        var link = try Link(window: 8)
        try channelActive(&link)
        link.pump()
        _ = try link.clientWrites()
        try link.serverSends(Node("success", ["t": "1760000000"]))
        link.pump()
        let count = try #require(try link.clientWrites().last?.attribute("id"))
        try link.serverSends(ServerStanzas.result(id: count, [Node("count", ["value": "100"])]))
        link.pump()
        _ = try link.clientWrites()

        let sent = link.channel.eventLoop.makePromise(of: Void.self)
        let answers = [Node("receipt", ["id": "M1", "to": .jid(JID(user: "1", server: .lid))]), Node("ack", ["class": "message", "id": "M2"])]
        link.shell.send(ClientRequestID(3), answers, promise: sent)
        try sent.futureResult.wait()
        #expect(try link.clientWrites() == answers)
    }

    /// The server answers ClientHello (ServerHello waits at the gate).
    private func channelActive(_ link: inout Link) throws {
        _ = try link.clientWrites()
    }
}
