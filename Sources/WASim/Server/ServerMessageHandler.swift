import NIOCore
import NIOWebSocket

/// Turns WebSocket frames into whole binary messages and back, on the server's side of an open socket.
///
/// Fragments are joined up to `maximumMessageSize` (a larger message closes the socket); text messages
/// are ignored as whatsmeow ignores them; pings are answered; a close frame is answered and the socket
/// closed. Outgoing messages are single unmasked binary frames.
final class ServerMessageHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private let maximumMessageSize: Int
    private var fragments: ByteBuffer?
    private var collectingBinary = false
    private var closeSent = false

    init(maximumMessageSize: Int) {
        self.maximumMessageSize = maximumMessageSize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .text:
            fragments = nil
            collectingBinary = frame.opcode == .binary
            collect(frame, context: context)
        case .continuation where fragments != nil:
            collect(frame, context: context)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            sendClose(context: context, code: .normalClosure)
            context.close(promise: nil)
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: unwrapOutboundIn(data))), promise: promise)
    }

    /// Sends a close frame first when the server is the one closing.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, context.channel.isActive {
            sendClose(context: context, code: .normalClosure)
        }
        context.close(mode: mode, promise: promise)
    }

    private func collect(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var data = frame.unmaskedData
        if frame.fin, fragments == nil {
            deliver(data, context: context)
            return
        }
        var collected = fragments ?? context.channel.allocator.buffer(capacity: data.readableBytes)
        guard collected.readableBytes + data.readableBytes <= maximumMessageSize else {
            fragments = nil
            sendClose(context: context, code: .messageTooLarge)
            context.close(promise: nil)
            return
        }
        collected.writeBuffer(&data)
        fragments = frame.fin ? nil : collected
        if frame.fin {
            deliver(collected, context: context)
        }
    }

    private func deliver(_ message: ByteBuffer, context: ChannelHandlerContext) {
        if collectingBinary {
            context.fireChannelRead(wrapInboundOut(message))
        }
    }

    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !closeSent else {
            return
        }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
    }
}
