import WAClient

/// How the pool opens upstream connections. WAClient's `UpstreamClient` is the real one; tests
/// script their own.
public protocol UpstreamConnector: Sendable {
    /// Fresh companion keys for a new pairing.
    func newCredentials() -> DeviceCredentials
    func connect(credentials: DeviceCredentials, intent: ConnectionIntent) -> any UpstreamSession
}

/// One upstream connection as the pool sees it.
public protocol UpstreamSession: Sendable {
    /// Ends after `.disconnected` or `.loggedOut`.
    var events: AsyncStream<ClientEvent> { get }
    /// Closes the connection; its stream ends with `.disconnected(reason)`.
    func close(reason: DisconnectReason) async
    /// Unlinks the companion upstream (remove-companion-device), then closes.
    func logout() async throws
}
