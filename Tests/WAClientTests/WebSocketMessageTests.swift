import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
import WebSocketMessages

/// The one WebSocket message handler of the client's and the simulator's sockets, on an embedded channel.
/// Outbound frames are read before the encoder, which applies the client's mask: their `data` is plain.
@Suite("WebSocket messages")
struct WebSocketMessageTests {
    private func channel(_ role: WebSocketMessageHandler.Role, maximumMessageSize: Int = 16) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketMessageHandler(role: role, maximumMessageSize: maximumMessageSize))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    private func frame(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true) -> WebSocketFrame {
        WebSocketFrame(fin: fin, opcode: opcode, data: ByteBuffer(bytes: bytes))
    }

    @Test func fragmentsBecomeOneBinaryMessageAndTextIsIgnored() throws {
        let channel = try channel(.server)
        try channel.writeInbound(frame(.binary, [1, 2], fin: false))
        try channel.writeInbound(frame(.continuation, [3], fin: false))
        try channel.writeInbound(frame(.continuation, [4]))
        try channel.writeInbound(frame(.text, Array("hi".utf8)))
        try channel.writeInbound(frame(.binary, [5]))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: [1, 2, 3, 4]))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: [5]))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
    }

    @Test(arguments: [WebSocketMessageHandler.Role.client, .server])
    func messagesAndPongsGoOutAsSingleFramesMaskedOnlyByTheClient(role: WebSocketMessageHandler.Role) throws {
        let channel = try channel(role)
        try channel.writeOutbound(ByteBuffer(bytes: [9, 8, 7]))
        let message = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(message.opcode == .binary && message.fin)
        #expect(message.data == ByteBuffer(bytes: [9, 8, 7]))
        #expect((message.maskKey != nil) == (role == .client))

        try channel.writeInbound(frame(.ping, [42]))
        let pong = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(pong.opcode == .pong)
        #expect(pong.data == ByteBuffer(bytes: [42]))
        #expect((pong.maskKey != nil) == (role == .client))
    }

    @Test func aCloseFrameIsAnsweredWithItsCodeAndClosesTheChannel() throws {
        let channel = try channel(.server)
        var code = ByteBuffer()
        code.write(webSocketErrorCode: .goingAway)
        try channel.writeInbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: code))
        let answer = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(answer.opcode == .connectionClose)
        #expect(answer.data == code)
        #expect(!channel.isActive)
    }

    @Test func closingSaysGoodbyeOnce() throws {
        let channel = try channel(.client)
        try channel.close().wait()
        var answer = try #require(try channel.readOutbound(as: WebSocketFrame.self)).data
        #expect(answer.readWebSocketErrorCode() == .normalClosure)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
    }

    @Test func aMessageOverTheLimitIsRefusedWith1009AndReported() throws {
        let channel = try channel(.client, maximumMessageSize: 4)
        try channel.writeInbound(frame(.binary, [1, 2, 3], fin: false))
        #expect(throws: WebSocketMessageHandler.MessageTooLarge.self) {
            try channel.writeInbound(frame(.continuation, [4, 5]))
        }
        var refusal = try #require(try channel.readOutbound(as: WebSocketFrame.self)).data
        #expect(refusal.readWebSocketErrorCode() == .messageTooLarge)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
    }
}
