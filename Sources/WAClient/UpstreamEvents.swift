/// A connection's events as an AsyncSequence, for one reader that handles each event before it
/// asks for the next (the link command, tests): asking for the next marks the previous one
/// handled, so the connection's flow control follows the reader.
public struct UpstreamEvents: AsyncSequence, Sendable {
    public typealias Element = ClientEvent

    private let stream: AsyncStream<ClientEvent>
    private let connection: UpstreamConnection

    init(stream: AsyncStream<ClientEvent>, connection: UpstreamConnection) {
        self.stream = stream
        self.connection = connection
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private var base: AsyncStream<ClientEvent>.AsyncIterator
        private let connection: UpstreamConnection
        private var holding = false

        init(base: AsyncStream<ClientEvent>.AsyncIterator, connection: UpstreamConnection) {
            self.base = base
            self.connection = connection
        }

        public mutating func next() async -> ClientEvent? {
            if holding {
                connection.handled()
            }
            let event = await base.next()
            holding = event != nil
            return event
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), connection: connection)
    }
}
