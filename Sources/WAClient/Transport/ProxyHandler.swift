import NIOCore

/// Opens the tunnel through an HTTP CONNECT or SOCKS5 proxy, then gets out of the way.
///
/// It sits first in the pipeline and holds back `channelActive` until the tunnel is open, so the handlers
/// behind it (TLS, the WebSocket upgrade) start exactly as if they were connected to the upstream itself.
/// A refusal is fired as a `ProxyError`.
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Fired on reaching the proxy, so that the handshake timeout starts with the TCP connection.
    struct Connected {}

    private var handshake: ProxyHandshake
    private var failed = false

    init(proxy: ProxyConfiguration, targetHost: String, targetPort: Int) {
        handshake = ProxyHandshake(proxy: proxy, targetHost: targetHost, targetPort: targetPort)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireUserInboundEventTriggered(Connected())
        start(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else {
            return
        }
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        do {
            switch try handshake.receive(bytes) {
            case .waiting:
                break
            case .send(let reply):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
            case .established(let leftover):
                context.fireChannelActive()
                if !leftover.isEmpty {
                    context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: leftover)))
                }
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        } catch {
            fail(context: context, error)
        }
    }

    private func start(context: ChannelHandlerContext) {
        do {
            let greeting = try handshake.start()
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: greeting)), promise: nil)
        } catch {
            fail(context: context, error)
        }
    }

    private func fail(context: ChannelHandlerContext, _ error: ProxyError) {
        failed = true
        context.fireErrorCaught(error)
    }
}
