import Foundation
import Synchronization

/// The gateway's one path for events. The part that owns a change publishes it once: this
/// process's subscribers get it at once, and `outbound` carries it to the fleet transport
/// (AdminAPI's FleetBus, over PostgreSQL NOTIFY), which hands it to the other instances'
/// buses through `receive`. No instance hears its own events twice.
///
/// The bus is live fan-out, not storage: an instance that is not listening misses what is said
/// meanwhile. What must survive that is written to the database with its change, and the bus
/// only says that it is there.
public final class EventBus: Sendable {
    /// The pairings' QR codes, outcomes and watchers, fed by `.pairing` events.
    public let pairings: PairingWatchers
    /// Events published here, in order, for the one transport that sends them to the other
    /// instances. Bounded: if the transport stalls (the database is down), the oldest go.
    public let outbound: AsyncStream<GatewayEvent>
    private let outboundSink: AsyncStream<GatewayEvent>.Continuation
    /// Keeps what a pairing's watchers see here and what leaves for other instances in one
    /// order, so a replay can never overtake a newer update of the same pairing.
    private let order = Mutex(())

    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        pairings = PairingWatchers(now: now)
        (outbound, outboundSink) = AsyncStream.makeStream(of: GatewayEvent.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Publishes a change this process owns: subscribers here get it directly, other instances
    /// through `outbound`.
    public func publish(_ event: GatewayEvent) {
        order.withLock { _ in
            deliver(event, local: true)
            outboundSink.yield(event)
        }
    }

    /// An event another instance published.
    public func receive(_ event: GatewayEvent) {
        deliver(event, local: false)
    }

    /// Sends what a pairing run here has shown so far to the other instances again: a watcher
    /// there came after its first QR.
    public func republish(pairingID: UUID) {
        order.withLock { _ in
            for event in pairings.replay(pairingID) {
                outboundSink.yield(.pairing(event))
            }
        }
    }

    private func deliver(_ event: GatewayEvent, local: Bool) {
        switch event {
        case .pairing(let pairing): pairings.apply(pairing, local: local)
        }
    }
}
