import DevicePool
import Foundation
import Synchronization

/// Pairing updates across the fleet. The instance running a pairing hands every update of its
/// feed to `observe` (the supervisor's `pairingObserver`); the fleet bus sends them as NOTIFY, in
/// order, and every instance's listener brings them back to `receive`, which fans them out to
/// the watchers in this process. A watcher gets the current QR or code first, then what follows;
/// the stream ends with the pairing.
public final class PairingRelay: Sendable {
    private struct Pairing {
        var deadline: Date
        var latest: PairingUpdate?
        var outcome: PairingUpdate?
        var watchers: [UUID: AsyncStream<PairingUpdate>.Continuation] = [:]
    }

    /// Updates of local feeds waiting to be sent (drained by the fleet bus, in order).
    let outgoing: AsyncStream<FleetMessage>
    private let outgoingSink: AsyncStream<FleetMessage>.Continuation
    private let pairings = Mutex<[UUID: Pairing]>([:])
    private let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
        (outgoing, outgoingSink) = AsyncStream.makeStream(of: FleetMessage.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    /// The supervisor's pairing observer: forwards a local feed's update to the fleet.
    @Sendable public func observe(_ feed: PairingFeed, _ update: PairingUpdate) {
        outgoingSink.yield(.pairing(PairingNotice(feed: feed, update: update)))
    }

    /// Asks the fleet for a pairing's current state (its owner answers with a replay).
    func requestReplay(_ pairingID: UUID) {
        outgoingSink.yield(.replay(pairingID: pairingID))
    }

    func send(_ message: FleetMessage) {
        outgoingSink.yield(message)
    }

    /// An update that arrived from the fleet (this instance's own included).
    func receive(_ notice: PairingNotice) {
        let update = notice.pairingUpdate
        let watchers: [AsyncStream<PairingUpdate>.Continuation] = pairings.withLock { pairings in
            prune(&pairings)
            var pairing = pairings[notice.pairingID] ?? Pairing(deadline: notice.deadline)
            guard pairing.outcome == nil else { return [] }
            switch update {
            case .qr, .code: pairing.latest = update
            case .paired: break
            case .ended: pairing.outcome = update
            }
            let watchers = Array(pairing.watchers.values)
            if case .ended = update { pairing.watchers = [:] }
            pairings[notice.pairingID] = pairing
            return watchers
        }
        for watcher in watchers {
            watcher.yield(update)
            if case .ended = update { watcher.finish() }
        }
    }

    /// The QR or code on show for a pairing, as far as this instance heard.
    func latest(_ pairingID: UUID) -> PairingUpdate? {
        pairings.withLock { pairings in
            guard let pairing = pairings[pairingID], pairing.outcome == nil else { return nil }
            return pairing.latest
        }
    }

    /// Watches a pairing run by any instance. `hasState` tells whether anything was replayed.
    func watch(_ pairingID: UUID, deadline: Date) -> (updates: AsyncStream<PairingUpdate>, hasState: Bool) {
        let (stream, continuation) = AsyncStream.makeStream(of: PairingUpdate.self, bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        let replay: [PairingUpdate] = pairings.withLock { pairings in
            prune(&pairings)
            var pairing = pairings[pairingID] ?? Pairing(deadline: deadline)
            if pairing.outcome == nil { pairing.watchers[id] = continuation }
            pairings[pairingID] = pairing
            return [pairing.latest, pairing.outcome].compactMap { $0 }
        }
        replay.forEach { continuation.yield($0) }
        if replay.contains(where: { if case .ended = $0 { true } else { false } }) {
            continuation.finish()
        } else {
            continuation.onTermination = { [weak self] _ in
                self?.pairings.withLock { _ = $0[pairingID]?.watchers.removeValue(forKey: id) }
            }
        }
        return (stream, !replay.isEmpty)
    }

    /// Pairings whose deadline passed a minute ago are gone for good (their outcome is in the database).
    private func prune(_ pairings: inout [UUID: Pairing]) {
        let horizon = now().addingTimeInterval(-60)
        for (id, pairing) in pairings where pairing.deadline < horizon {
            pairing.watchers.values.forEach { $0.finish() }
            pairings[id] = nil
        }
    }
}
