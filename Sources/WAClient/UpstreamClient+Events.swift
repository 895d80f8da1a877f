extension UpstreamClient {
    /// Starts a connection whose events are read as a sequence; it ends after `.disconnected`
    /// or `.loggedOut`.
    public func connect(
        credentials: DeviceCredentials,
        intent: ConnectionIntent,
        proxy: ProxyConfiguration? = nil
    ) -> (connection: UpstreamConnection, events: UpstreamEvents) {
        // Unbounded here; the connection's own window bounds what waits.
        let (stream, sink) = AsyncStream.makeStream(of: ClientEvent.self)
        let connection = connect(credentials: credentials, intent: intent, proxy: proxy) { event in
            sink.yield(event)
            switch event {
            case .disconnected, .loggedOut: sink.finish()
            default: break
            }
        }
        return (connection, UpstreamEvents(stream: stream, connection: connection))
    }
}
