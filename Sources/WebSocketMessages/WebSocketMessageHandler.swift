import NIOCore
import NIOWebSocket

/// Turns WebSocket frames into whole binary messages and back, on either side of an open socket:
/// the client's connection to WhatsApp and the simulator's connections from clients.
///
/// Fragments are joined up to `maximumMessageSize`; a larger message is refused with close code 1009
/// and reported as `MessageTooLarge` to the handler after this one, which ends the connection. Text
/// messages are ignored (WhatsApp sends none); pings are answered; a close frame is answered with its
/// own code and the channel closed. Outgoing messages are single binary frames, masked on the
/// client's side as RFC 6455 requires.
public final class WebSocketMessageHandler: ChannelDuplexHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = WebSocketFrame

    /// Which end of the socket this is: clients mask what they send, servers must not.
    public enum Role: Sendable {
        case client
        case server
    }

    /// The reason a message was refused: a peer that sends more than we accept.
    public struct MessageTooLarge: Error {
        public init() {}
    }

    private let role: Role
    private let maximumMessageSize: Int
    private var fragments: ByteBuffer?
    private var fragmentsAreBinary = false
    private var closeSent = false

    public init(role: Role, maximumMessageSize: Int) {
        self.role = role
        self.maximumMessageSize = maximumMessageSize
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: maskKey(), data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            let data = frame.unmaskedData
            sendClose(context: context, data: data.getSlice(at: data.readerIndex, length: min(2, data.readableBytes)))
            context.close(promise: nil)
        default:
            break
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: maskKey(), data: unwrapOutboundIn(data))
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    /// Says goodbye with a close frame before the socket closes, when we are the one closing.
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, context.channel.isActive {
            sendClose(context: context, code: .normalClosure)
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
            refuseTooLarge(context: context)
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
            refuseTooLarge(context: context)
            return
        }
        context.fireChannelRead(wrapInboundOut(message))
    }

    private func refuseTooLarge(context: ChannelHandlerContext) {
        sendClose(context: context, code: .messageTooLarge)
        context.fireErrorCaught(MessageTooLarge())
    }

    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        sendClose(context: context, data: data)
    }

    private func sendClose(context: ChannelHandlerContext, data: ByteBuffer?) {
        guard !closeSent else {
            return
        }
        closeSent = true
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: maskKey(), data: data ?? context.channel.allocator.buffer(capacity: 0))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    private func maskKey() -> WebSocketMaskingKey? {
        role == .client ? .random() : nil
    }
}
