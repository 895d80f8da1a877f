import NIOCore
import NIOHTTP1
import NIOTLS

/// Watches a client connection from TCP connect until the WebSocket is open: sends the upgrade request,
/// knows which stage (proxy, TLS, upgrade) is under way, enforces the handshake timeout, and reports the
/// first failure once, classified, before closing the channel.
///
/// It sits last in the pipeline until the upgrade, and the upgrade removes it.
final class WebSocketSetupHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let endpoint: UpstreamEndpoint
    private let headers: HTTPHeaders
    private let timeout: Duration
    private let onFailure: (DisconnectReason) -> Void
    private let tlsStage: Bool
    private var stage: DisconnectReason.Stage
    private var timer: Scheduled<Void>?
    private var finished = false

    /// `headers` go on the upgrade request besides the WebSocket ones. `onFailure` is called at most once,
    /// on the event loop.
    init(
        endpoint: UpstreamEndpoint, headers: HTTPHeaders, viaProxy: Bool, timeout: Duration,
        onFailure: @escaping (DisconnectReason) -> Void
    ) {
        self.endpoint = endpoint
        self.headers = headers
        self.timeout = timeout
        self.onFailure = onFailure
        tlsStage = endpoint.secure
        stage = viaProxy ? .proxy : (endpoint.secure ? .tls : .websocket)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    /// The tunnel through the proxy (or the TCP connection itself) is open: TLS or the upgrade begins.
    func channelActive(context: ChannelHandlerContext) {
        startTimer(context: context)
        stage = tlsStage ? .tls : .websocket
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.target)
        head.headers.add(name: "Host", value: endpoint.hostHeader)
        head.headers.add(contentsOf: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            stage = .websocket
        } else if event is ProxyHandler.Connected {
            startTimer(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Only a refused upgrade reaches this handler: the upgrade handler passes on any answer but 101.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let response) = unwrapInboundIn(data) {
            fail(context: context, TransportFailure.upgradeRefused(response.status))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, TransportFailure.setup(error, stage: stage))
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context: context, TransportFailure.closed(during: stage))
        context.fireChannelInactive()
    }

    /// The timeout counts from the TCP connection (to the proxy or the upstream), after the connect timeout.
    private func startTimer(context: ChannelHandlerContext) {
        guard timer == nil, !finished else {
            return
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            let (handler, context) = loopBound.value
            handler.fail(context: context, TransportFailure.timedOut(during: handler.stage, after: handler.timeout))
        }
    }

    private func fail(context: ChannelHandlerContext, _ reason: DisconnectReason) {
        guard !finished else {
            return
        }
        finished = true
        timer?.cancel()
        timer = nil
        onFailure(reason)
        context.close(promise: nil)
    }
}
