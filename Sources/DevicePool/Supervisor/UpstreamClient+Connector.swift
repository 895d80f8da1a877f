import WAClient

/// The real upstream: WAClient's client, one per process, connecting each device.
extension UpstreamClient: UpstreamConnector {
    public func newCredentials() -> DeviceCredentials {
        DeviceCredentials.generate()
    }

    public func announce(webVersion: String) {
    }

    public func connect(
        credentials: DeviceCredentials, intent: ConnectionIntent, deliver: @escaping @Sendable (ClientEvent) -> Void
    ) -> any UpstreamSession {
        connect(credentials: credentials, intent: intent, proxy: nil, deliver: deliver)
    }
}

extension UpstreamConnection: UpstreamSession {}
