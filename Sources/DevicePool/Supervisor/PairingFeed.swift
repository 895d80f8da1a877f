import Foundation
import Synchronization

/// What a pairing's watchers see: the current QR or code, then the outcome.
public enum PairingUpdate: Sendable, Hashable {
    case qr(String, expiresAt: Date)
    case code(String, expiresAt: Date)
    case paired(deviceID: UUID, jid: String)
    case ended(PairingOutcome, detail: String?)
}

/// The live updates of one pairing, for any number of watchers (SSE streams, the page). A new
/// watcher first gets the current QR or code, then everything after it; the stream ends with the
/// pairing.
public final class PairingFeed: Sendable {
    public let pairingID: UUID
    public let deviceID: UUID
    public let tenantID: UUID
    public let deadline: Date
    private let observer: (@Sendable (PairingFeed, PairingUpdate) -> Void)?

    private struct State {
        var latest: PairingUpdate?
        var outcome: PairingUpdate?
        var watchers: [UUID: AsyncStream<PairingUpdate>.Continuation] = [:]
    }
    private let state = Mutex(State())

    /// `observer` sees every update as it is published (the HTTP layer forwards them to other
    /// instances, whose watchers are not in this process).
    public init(pairingID: UUID, deviceID: UUID, tenantID: UUID, deadline: Date,
                observer: (@Sendable (PairingFeed, PairingUpdate) -> Void)? = nil) {
        self.pairingID = pairingID
        self.deviceID = deviceID
        self.tenantID = tenantID
        self.deadline = deadline
        self.observer = observer
    }

    /// The latest QR or code, and the outcome once there is one.
    public var current: (latest: PairingUpdate?, outcome: PairingUpdate?) {
        state.withLock { ($0.latest, $0.outcome) }
    }

    public func watch() -> AsyncStream<PairingUpdate> {
        let (stream, continuation) = AsyncStream.makeStream(of: PairingUpdate.self, bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        let replay: [PairingUpdate] = state.withLock { state in
            if state.outcome == nil { state.watchers[id] = continuation }
            return [state.latest, state.outcome].compactMap { $0 }
        }
        replay.forEach { continuation.yield($0) }
        if current.outcome != nil {
            continuation.finish()
        } else {
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
            }
        }
        return stream
    }

    func publish(_ update: PairingUpdate) {
        let watchers: [AsyncStream<PairingUpdate>.Continuation] = state.withLock { state in
            guard state.outcome == nil else { return [] }
            switch update {
            case .qr, .code: state.latest = update
            case .paired: break
            case .ended: state.outcome = update
            }
            return Array(state.watchers.values)
        }
        observer?(self, update)
        for watcher in watchers {
            watcher.yield(update)
            if case .ended = update { watcher.finish() }
        }
    }
}
