import WAClient

/// The real upstream: WAClient's client, one per process, connecting each device.
extension UpstreamClient: UpstreamConnector {
    public func newCredentials() -> DeviceCredentials {
        DeviceCredentials.generate()
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
