import WAClient
import WAWire

/// The real upstream: WAClient's client, one per process, connecting each device.
extension UpstreamClient: UpstreamConnector {
    public func newCredentials() -> DeviceCredentials {
        DeviceCredentials.generate()
    }

    public func announce(webVersion: String) {
        // The pool only passes versions that parsed (configuration, settings, admin route).
        if let version = WebClientVersion(webVersion) { useWebVersion(version) }
    }

    public func connect(
        credentials: DeviceCredentials, intent: ConnectionIntent, proxy: ProxyConfiguration?,
        deliver: @escaping @Sendable (ClientEvent) -> Void
    ) -> any UpstreamSession {
        // The annotation picks the client's own connect, not this witness.
        let connection: UpstreamConnection = connect(credentials: credentials, intent: intent, proxy: proxy, deliver: deliver)
        return connection
    }
}

extension UpstreamConnection: UpstreamSession {}
