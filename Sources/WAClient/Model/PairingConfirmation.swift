import Synchronization

/// The consumer's answer to `ClientEvent.pairSuccess`: the reply to pair-success is sent only
/// after `accept()`, so credentials are on disk before the phone believes pairing worked.
/// Only the first answer counts.
public final class PairingConfirmation: Sendable {
    private let completion: Mutex<(@Sendable (Result<Void, any Error>) -> Void)?>

    public init(_ completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        self.completion = Mutex(completion)
    }

    /// The credentials are persisted; answer the server.
    public func accept() { finish(.success(())) }

    /// Persisting failed; the client answers pair-success with an error and disconnects.
    public func reject(_ error: any Error) { finish(.failure(error)) }

    private func finish(_ result: Result<Void, any Error>) {
        let callback = completion.withLock { stored -> (@Sendable (Result<Void, any Error>) -> Void)? in
            defer { stored = nil }
            return stored
        }
        callback?(result)
    }
}
