import WAClient
import WAWire

/// How the pool opens upstream connections. WAClient's `UpstreamClient` is the real one; tests
/// script their own.
public protocol UpstreamConnector: Sendable {
    /// Fresh companion keys for a new pairing.
    func newCredentials() -> DeviceCredentials
    /// The WhatsApp Web version (`2.3000.<revision>`) connections opened from now on announce.
    func announce(webVersion: String)
    /// Opens a connection that hands its events to `deliver` one at a time, in order, ending
    /// with `.disconnected` or `.loggedOut`. Nothing is dropped: while the consumer has many
    /// delivered events not yet `handled()`, the connection stops reading from its socket.
    /// `proxy` is the device's own proxy; nil takes the connector's default (`upstream.proxy`).
    func connect(
        credentials: DeviceCredentials, intent: ConnectionIntent, proxy: ProxyConfiguration?,
        deliver: @escaping @Sendable (ClientEvent) -> Void
    ) -> any UpstreamSession
}

/// One upstream connection as the pool sees it.
public protocol UpstreamSession: Sendable {
    /// The consumer is done with one delivered event.
    func handled()
    /// Writes answers to delivered stanzas in order, flushed; throws once the connection ended.
    func send(_ nodes: [Node]) async throws
    /// Sends an IQ and waits for its result; the connection reads on while it waits.
    func query(_ iq: Node) async throws -> Node
    /// Closes the connection; its last event is `.disconnected(reason)`.
    func close(reason: DisconnectReason) async
    /// Unlinks the companion upstream (remove-companion-device), then closes.
    func logout() async throws
}
