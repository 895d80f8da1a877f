import NIOCore
import NIOWebSocket

/// Turns WebSocket frames into whole binary messages and back, on the client's side of an open socket.
///
/// Fragments are joined up to `maximumMessageSize`; text messages are ignored (WhatsApp sends none);
/// pings are answered; a close frame is answered and the channel closed. Outgoing messages are single
/// masked binary frames, as RFC 6455 requires of clients.
final class WebSocketMessageHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    /// The reason a message was refused: a peer that sends more than we accept.
    struct MessageTooLarge: Error {}

    private let maximumMessageSize: Int
    private var fragments: ByteBuffer?
    private var fragmentsAreBinary = false
    private var closeSent = false

    init(maximumMessageSize: Int) {
        self.maximumMessageSize = maximumMessageSize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .text:
            fragments = nil
            fragmentsAreBinary = frame.opcode == .binary
            collect(frame, context: context)
        case .continuation:
            guard fragments != nil else {
                return
            }
            collect(frame, context: context)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            sendClose(context: context, data: frame.unmaskedData.getSlice(at: frame.unmaskedData.readerIndex, length: min(2, frame.unmaskedData.readableBytes)))
            context.close(promise: nil)
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: unwrapOutboundIn(data))
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    /// Says goodbye with a close frame before the socket closes, when we are the one closing.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, context.channel.isActive {
            var code = context.channel.allocator.buffer(capacity: 2)
            code.write(webSocketErrorCode: .normalClosure)
            sendClose(context: context, data: code)
        }
        context.close(mode: mode, promise: promise)
    }

    private func collect(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var data = frame.unmaskedData
        if frame.fin, fragments == nil {
            finish(data, context: context)
            return
        }
        var collected = fragments ?? context.channel.allocator.buffer(capacity: data.readableBytes)
        guard collected.readableBytes + data.readableBytes <= maximumMessageSize else {
            fragments = nil
            context.fireErrorCaught(MessageTooLarge())
            return
        }
        collected.writeBuffer(&data)
        if frame.fin {
            fragments = nil
            finish(collected, context: context)
        } else {
            fragments = collected
        }
    }

    private func finish(_ message: ByteBuffer, context: ChannelHandlerContext) {
        guard fragmentsAreBinary else {
            return
        }
        guard message.readableBytes <= maximumMessageSize else {
            context.fireErrorCaught(MessageTooLarge())
            return
        }
        context.fireChannelRead(wrapInboundOut(message))
    }

    private func sendClose(context: ChannelHandlerContext, data: ByteBuffer?) {
        guard !closeSent else {
            return
        }
        closeSent = true
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data ?? context.channel.allocator.buffer(capacity: 0))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
