import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import WAWire

/// Everything an `UpstreamClient` needs to reach WhatsApp (or a simulator); defaults are WhatsApp Web's.
public struct ClientConfiguration: Sendable {
    /// How long opening a connection may take, before the session machine's own handshake timeout.
    public struct Timeouts: Sendable, Hashable {
        /// The TCP connect to the upstream or the proxy (DNS not included).
        public var connect: Duration = .seconds(20)
        /// From the TCP connection until the WebSocket is open: proxy tunnel, TLS and the HTTP upgrade.
        public var handshake: Duration = .seconds(20)

        public init() {}
    }

    /// `ws://` or `wss://`; WhatsApp's chat socket by default.
    public var upstreamURL = "wss://web.whatsapp.com/ws/chat"
    /// The Origin header of the upgrade request; WhatsApp checks it.
    public var origin = "https://web.whatsapp.com"
    /// Sent as User-Agent when set (whatsmeow sends none of its own by default).
    public var userAgent: String?
    /// Trust roots for `wss://`, one context for all connections; nil uses the system's.
    public var tls: ClientTLS?
    /// The proxy for connections that do not name their own.
    public var proxy: ProxyConfiguration?
    public var timeouts = Timeouts()
    /// The largest WebSocket message accepted (the frame format allows 16 MiB).
    public var maximumMessageSize = 1 << 24
    /// How many delivered events a connection's consumer may have in hand (not yet `handled()`)
    /// before the connection stops reading from its socket; it reads on at half. Nothing is dropped.
    public var eventBufferSize = 64
    /// Called with every answered keepalive ping's round trip, on the connection's event loop
    /// (keep it cheap: a metric). Not an event, so a ping costs the consumer nothing.
    public var keepaliveRoundTrip: (@Sendable (Duration) -> Void)?
    /// The session: trusted root key, ClientPayload (web version), keepalive, QR and request timings.
    public var session = ClientSessionMachine.Configuration()

    public init() {}

    /// The key that must sign the server's certificate chain (a simulator's root in tests).
    public var trustedRootKey: [UInt8] {
        get { session.trustedRootKey }
        set { session.trustedRootKey = newValue }
    }

    /// The WhatsApp Web version the ClientPayload claims; failure 405 names it.
    public var webVersion: WebClientVersion {
        get { session.payload.version }
        set { session.payload.version = newValue }
    }
}

/// Opens connections to the upstream for many devices. Create one per process: it holds the event loop
/// group and the one TLS context every connection shares.
public final class UpstreamClient: Sendable {
    public let configuration: ClientConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let endpoint: UpstreamEndpoint?
    private let tlsContext: ClientTLS?
    private let timerWheels = TimerWheels()
    /// The version new connections announce; it starts as the configuration's.
    private let announcedVersion: Mutex<WebClientVersion>

    public init(eventLoopGroup: any EventLoopGroup, configuration: ClientConfiguration, logger: Logger) {
        self.eventLoopGroup = eventLoopGroup
        self.configuration = configuration
        self.logger = logger
        announcedVersion = Mutex(configuration.webVersion)
        endpoint = UpstreamEndpoint(url: configuration.upstreamURL)
        if let tls = configuration.tls {
            tlsContext = tls
        } else if endpoint?.secure == true {
            do {
                tlsContext = try ClientTLS(trustRoots: .system)
            } catch {
                logger.error("cannot load the system's TLS trust roots", metadata: ["error": "\(error)"])
                tlsContext = nil
            }
        } else {
            tlsContext = nil
        }
    }

    /// The WhatsApp Web version connections opened from now on announce (a fleet-wide version
    /// that changed at run time); connections already open keep theirs.
    public func useWebVersion(_ version: WebClientVersion) {
        announcedVersion.withLock { $0 = version }
    }

    /// The version new connections announce.
    public var webVersion: WebClientVersion {
        announcedVersion.withLock { $0 }
    }

    /// Starts a connection for one device; `proxy` overrides the configured one. Its events go to
    /// `deliver` one at a time, on the connection's event loop (hand them over; do not work there),
    /// ending with `.disconnected` or `.loggedOut`. Call the connection's `handled()` after each.
    public func connect(
        credentials: DeviceCredentials,
        intent: ConnectionIntent,
        proxy: ProxyConfiguration? = nil,
        deliver: @escaping @Sendable (ClientEvent) -> Void
    ) -> UpstreamConnection {
        let eventLoop = eventLoopGroup.next()
        let events = ConnectionEvents(window: configuration.eventBufferSize, eventLoop: eventLoop, deliver: deliver)
        let connection = UpstreamConnection(eventLoop: eventLoop, events: events)
        guard let endpoint else {
            events.fail(DisconnectReason(stage: .websocket, category: .other, detail: "the upstream URL \(configuration.upstreamURL) is not ws:// or wss://"))
            return connection
        }
        var headers = HTTPHeaders()
        headers.add(name: "Origin", value: configuration.origin)
        headers.add(name: "Cache-Control", value: "no-cache")
        headers.add(name: "Pragma", value: "no-cache")
        if let userAgent = configuration.userAgent {
            headers.add(name: "User-Agent", value: userAgent)
        }
        let transport = UpstreamTransport(
            endpoint: endpoint,
            headers: headers,
            tls: tlsContext?.context,
            proxy: proxy ?? configuration.proxy,
            timeouts: .init(connect: configuration.timeouts.connect, handshake: configuration.timeouts.handshake),
            maximumMessageSize: configuration.maximumMessageSize
        )
        var session = configuration.session
        session.payload.version = webVersion
        let machine = ClientSessionMachine(credentials: credentials, intent: intent, configuration: session)
        let logger = logger
        let keepaliveRoundTrip = configuration.keepaliveRoundTrip
        let timerWheels = timerWheels
        transport.connect(
            on: eventLoop,
            failed: { reason in
                logger.info("upstream connection failed", metadata: ["reason": "\(reason)"])
                events.fail(reason)
            },
            upgraded: { channel in
                let handler = ClientSessionHandler(
                    machine: machine, events: events, wheel: timerWheels.wheel(on: channel.eventLoop),
                    keepaliveRoundTrip: keepaliveRoundTrip)
                try channel.pipeline.syncOperations.addHandler(handler)
                connection.sessionStarted(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
            }
        ).whenSuccess { channel in
            connection.connected(channel)
            // A safety net: whatever the handlers saw, the stream ends when the socket is gone.
            channel.closeFuture.whenComplete { _ in
                events.fail(DisconnectReason(stage: .tcp, category: .network, detail: "the connection closed"))
            }
        }
        return connection
    }
}
