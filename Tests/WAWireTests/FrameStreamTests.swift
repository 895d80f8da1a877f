import Testing
@testable import WAWire

/// The one read and write path of both session machines: frames, then Noise, then nodes, and back.
@Suite("Frame stream")
struct FrameStreamTests {
    /// Both sides after a real handshake carried through their streams, with their transports.
    private struct Connected {
        var client = FrameStream(side: .client)
        var server = FrameStream(side: .server)
        var clientTransport: NoiseTransport
        var serverTransport: NoiseTransport
    }

    private func connected() throws -> Connected {
        let pki = HandshakeFixtures.TestPKI()
        var clientHandshake = ClientHandshake(
            noiseKey: .generate(), payload: ClientPayloadBuilder().loginPayload(username: 15_551_234_567, device: 3),
            trustedRootKey: pki.root.publicKey
        )
        var serverHandshake = ServerHandshake(staticKey: pki.serverStatic, certificateChain: pki.chain())
        var client = FrameStream(side: .client)
        var server = FrameStream(side: .server)

        let hello = try client.frame(try clientHandshake.start())
        #expect(hello.starts(with: FrameWriter.intro))
        try server.append(hello)
        let serverHello = try server.frame(try serverHandshake.receiveClientHello(try #require(try server.nextFrame())))
        #expect(!serverHello.starts(with: FrameWriter.intro))
        try client.append(serverHello)
        let completion = try clientHandshake.receiveServerHello(try #require(try client.nextFrame()), now: HandshakeFixtures.now)
        try server.append(try client.frame(completion.clientFinish))
        let finished = try serverHandshake.receiveClientFinish(try #require(try server.nextFrame()))
        return Connected(client: client, server: server, clientTransport: completion.transport, serverTransport: finished.transport)
    }

    @Test func stanzasGoBothWaysWhateverTheMessageBoundaries() throws {
        var link = try connected()
        let ping = Node("iq", ["id": "1", "type": "get", "xmlns": "w:p"])
        let pong = Node("iq", ["id": "1", "type": "result"])
        // Two frames in one message, then one frame cut across two messages.
        let twice = try link.client.encrypt(ping, with: &link.clientTransport) + link.client.encrypt(ping, with: &link.clientTransport)
        try link.server.append(twice)
        #expect(try link.server.nextStanza(decryptingWith: &link.serverTransport) == .success(ping))
        #expect(try link.server.nextStanza(decryptingWith: &link.serverTransport) == .success(ping))
        #expect(try link.server.nextStanza(decryptingWith: &link.serverTransport) == nil)

        let answer = try link.server.encrypt(pong, with: &link.serverTransport)
        try link.client.append(Array(answer.prefix(5)))
        #expect(try link.client.nextStanza(decryptingWith: &link.clientTransport) == nil)
        try link.client.append(Array(answer.dropFirst(5)))
        #expect(try link.client.nextStanza(decryptingWith: &link.clientTransport) == .success(pong))
    }

    @Test func anUndecodableStanzaIsReportedAndTheStreamGoesOn() throws {
        var link = try connected()
        var writer = FrameWriter(header: [])
        try link.server.append(try writer.encode(try link.clientTransport.encrypt([0, 0xF8, 0xFF])))
        guard case .failure = try link.server.nextStanza(decryptingWith: &link.serverTransport) else {
            Issue.record("expected an undecodable stanza")
            return
        }
        let node = Node("ib")
        try link.server.append(try link.client.encrypt(node, with: &link.clientTransport))
        #expect(try link.server.nextStanza(decryptingWith: &link.serverTransport) == .success(node))
    }

    @Test func aFrameThatDoesNotDecryptBreaksTheStream() throws {
        var link = try connected()
        var frame = try link.client.encrypt(Node("ib"), with: &link.clientTransport)
        frame[frame.count - 1] ^= 1
        try link.server.append(frame)
        #expect(throws: FrameStreamError(.undecryptable)) {
            try link.server.nextStanza(decryptingWith: &link.serverTransport)
        }
        #expect(FrameStreamError(.undecryptable).detail == "a frame failed to decrypt")
    }

    @Test func bytesThatAreNotFramesBreakTheStreamForGood() throws {
        var server = FrameStream(side: .server)
        let broken = FrameStreamError(framing: FrameError(.invalidIntro))
        #expect(throws: broken) { try server.append(Array("GET / HTTP/1.1\r\n".utf8)) }
        #expect(throws: broken) { try server.nextFrame() }
        #expect(broken.detail == "unreadable framing (invalid_intro)")
    }
}
