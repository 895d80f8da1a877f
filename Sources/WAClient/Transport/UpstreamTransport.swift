import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import WebSocketMessages

/// Opens one WebSocket to the upstream: DNS, TCP (to the proxy when there is one), the proxy tunnel, TLS,
/// the HTTP upgrade. The pipeline ends with a `WebSocketMessageHandler` (whole binary messages as
/// `ByteBuffer`s) followed by whatever `upgraded` adds.
struct UpstreamTransport: Sendable {
    /// How long each part of opening a connection may take.
    struct Timeouts: Sendable, Hashable {
        /// The TCP connect, to the proxy or the upstream (DNS not included).
        var connect: Duration
        /// From the TCP connection until the WebSocket is open: proxy tunnel, TLS and the upgrade.
        var handshake: Duration
    }

    var endpoint: UpstreamEndpoint
    /// Headers of the upgrade request besides Host and the WebSocket ones (Origin, ...).
    var headers: HTTPHeaders
    /// Required for `wss://`.
    var tls: NIOSSLContext?
    var proxy: ProxyConfiguration?
    var timeouts: Timeouts
    var maximumMessageSize: Int

    /// Connects on `eventLoop`. A failure before the WebSocket opens is reported once through `failed`
    /// (classified; the channel is closed) — whether it happens while connecting (the future fails too) or
    /// later. `upgraded` runs on the event loop with the open channel to add the session's handler.
    func connect(
        on eventLoop: any EventLoop,
        failed: @escaping @Sendable (DisconnectReason) -> Void,
        upgraded: @escaping @Sendable (any Channel) throws -> Void
    ) -> EventLoopFuture<any Channel> {
        let connectHost = proxy?.host ?? endpoint.host
        let connectPort = proxy?.port ?? endpoint.port
        let viaProxy = proxy != nil
        if endpoint.secure, tls == nil {
            failed(DisconnectReason(stage: .tls, category: .other, detail: "no TLS context configured for a wss:// upstream"))
            return eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(timeouts.connect))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.configure(channel, failed: failed, upgraded: upgraded)
                }
            }
        return bootstrap.connect(host: connectHost, port: connectPort).flatMapErrorThrowing { error in
            failed(TransportFailure.connect(error, host: connectHost, port: connectPort, viaProxy: viaProxy))
            throw error
        }
    }

    private func configure(
        _ channel: any Channel,
        failed: @escaping @Sendable (DisconnectReason) -> Void,
        upgraded: @escaping @Sendable (any Channel) throws -> Void
    ) throws {
        let pipeline = channel.pipeline.syncOperations
        if let proxy {
            try pipeline.addHandler(ProxyHandler(proxy: proxy, targetHost: endpoint.host, targetPort: endpoint.port))
        }
        if endpoint.secure, let tls {
            // SNI is for names only; an IP address literal goes without it.
            let serverName = endpoint.host.contains(where: \.isLetter) ? endpoint.host : nil
            try pipeline.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
        }
        let setup = WebSocketSetupHandler(
            endpoint: endpoint, headers: headers, viaProxy: proxy != nil, timeout: timeouts.handshake,
            onFailure: failed
        )
        let maximumMessageSize = maximumMessageSize
        let boundSetup = NIOLoopBound(setup, eventLoop: channel.eventLoop)
        let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: maximumMessageSize) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                let pipeline = channel.pipeline.syncOperations
                pipeline.removeHandler(boundSetup.value, promise: nil)
                try pipeline.addHandler(WebSocketMessageHandler(role: .client, maximumMessageSize: maximumMessageSize))
                try upgraded(channel)
            }
        }
        let encoder = HTTPRequestEncoder()
        let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
        try pipeline.addHandler(encoder)
        try pipeline.addHandler(decoder)
        try pipeline.addHandler(
            NIOHTTPClientUpgradeHandler(upgraders: [upgrader], httpHandlers: [encoder, decoder]) { _ in }
        )
        try pipeline.addHandler(setup)
    }
}
