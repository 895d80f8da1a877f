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
        credentials: DeviceCredentials, intent: ConnectionIntent, deliver: @escaping @Sendable (ClientEvent) -> Void
    ) -> any UpstreamSession {
        connect(credentials: credentials, intent: intent, proxy: nil, deliver: deliver)
    }
}

extension UpstreamConnection: UpstreamSession {}
