import Foundation
import Synchronization

/// The pairings this instance knows of — the ones it runs and, through the fleet, the others'
/// — with the QR or code on show, the outcome, and their watchers (event streams, POST /pair
/// waiting for the first QR). A new watcher gets the current QR or code first, then what
/// follows; its stream ends with the pairing.
public final class PairingWatchers: Sendable {
    private struct Pairing {
        var deadline: Date
        /// The event that brought the latest news, for answering a replay.
        var last: PairingEvent?
        /// This instance runs the pairing (it published the updates itself).
        var local = false
        var latest: PairingUpdate?
        var outcome: PairingUpdate?
        var watchers: [UUID: AsyncStream<PairingUpdate>.Continuation] = [:]
    }

    /// A watcher's updates, and whether nothing was known yet so that the owner, if it is
    /// another instance, should be asked for a replay.
    public struct Watch: Sendable {
        public var updates: AsyncStream<PairingUpdate>
        public var needsReplay: Bool
    }

    private let pairings = Mutex<[UUID: Pairing]>([:])
    private let now: @Sendable () -> Date

    init(now: @escaping @Sendable () -> Date) {
        self.now = now
    }

    /// Watches a pairing run here or anywhere in the fleet.
    public func watch(_ pairingID: UUID, deadline: Date) -> Watch {
        let (stream, continuation) = AsyncStream.makeStream(of: PairingUpdate.self, bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        let (replay, local, expired) = pairings.withLock { pairings in
            let expired = prune(&pairings)
            var pairing = pairings[pairingID] ?? Pairing(deadline: deadline)
            if pairing.outcome == nil { pairing.watchers[id] = continuation }
            pairings[pairingID] = pairing
            return ([pairing.latest, pairing.outcome].compactMap { $0 }, pairing.local, expired)
        }
        expired.forEach { $0.finish() }
        replay.forEach { continuation.yield($0) }
        if replay.contains(where: { if case .ended = $0 { true } else { false } }) {
            continuation.finish()
        } else {
            continuation.onTermination = { [weak self] _ in
                self?.pairings.withLock { _ = $0[pairingID]?.watchers.removeValue(forKey: id) }
            }
        }
        return Watch(updates: stream, needsReplay: replay.isEmpty && !local)
    }

    /// The latest QR or code and the outcome, as far as this instance heard.
    public func current(_ pairingID: UUID) -> (latest: PairingUpdate?, outcome: PairingUpdate?) {
        pairings.withLock { pairings in
            guard let pairing = pairings[pairingID] else { return (nil, nil) }
            return (pairing.latest, pairing.outcome)
        }
    }

    /// The QR or code on show while the pairing runs.
    public func showing(_ pairingID: UUID) -> PairingUpdate? {
        let (latest, outcome) = current(pairingID)
        return outcome == nil ? latest : nil
    }

    /// Records an update and hands it to the pairing's watchers; the outcome ends their streams.
    func apply(_ event: PairingEvent, local: Bool) {
        let update = event.update
        let (watchers, expired) = pairings.withLock { pairings -> ([AsyncStream<PairingUpdate>.Continuation], [AsyncStream<PairingUpdate>.Continuation]) in
            let expired = prune(&pairings)
            var pairing = pairings[event.pairingID] ?? Pairing(deadline: event.deadline)
            guard pairing.outcome == nil else { return ([], expired) }
            pairing.last = event
            pairing.local = pairing.local || local
            switch update {
            case .qr, .code: pairing.latest = update
            case .paired: break
            case .ended: pairing.outcome = update
            }
            let watchers = Array(pairing.watchers.values)
            if case .ended = update { pairing.watchers = [:] }
            pairings[event.pairingID] = pairing
            return (watchers, expired)
        }
        expired.forEach { $0.finish() }
        for watcher in watchers {
            watcher.yield(update)
            if case .ended = update { watcher.finish() }
        }
    }

    /// What a pairing run here has shown so far (QR or code, then the outcome), to send again
    /// to a watcher on another instance that came after it; nothing for other pairings.
    func replay(_ pairingID: UUID) -> [PairingEvent] {
        pairings.withLock { pairings in
            guard let pairing = pairings[pairingID], pairing.local, let last = pairing.last else { return [] }
            return [pairing.latest, pairing.outcome].compactMap { update in
                update.map { PairingEvent(pairingID: pairingID, tenantID: last.tenantID, deviceID: last.deviceID, deadline: last.deadline, update: $0) }
            }
        }
    }

    /// Forgets pairings whose deadline passed a minute ago (their outcome is in the database)
    /// and returns their watchers, to be finished outside the lock: finishing runs their
    /// termination handlers, which take it.
    private func prune(_ pairings: inout [UUID: Pairing]) -> [AsyncStream<PairingUpdate>.Continuation] {
        let horizon = now().addingTimeInterval(-60)
        var expired: [AsyncStream<PairingUpdate>.Continuation] = []
        for (id, pairing) in pairings where pairing.deadline < horizon {
            expired.append(contentsOf: pairing.watchers.values)
            pairings[id] = nil
        }
        return expired
    }
}
