import DevicePool
import Foundation
import PairgateTestSupport
import Testing

@Suite("The event bus and its pairing watchers")
struct EventBusTests {
    let pairing = UUID()
    let tenant = UUID()
    let device = UUID()

    func event(_ update: PairingUpdate) -> GatewayEvent {
        .pairing(PairingEvent(pairingID: pairing, tenantID: tenant, deviceID: device, deadline: t0.addingTimeInterval(180), update: update))
    }

    @Test func aLateWatcherGetsTheCurrentCodeFirstAndTheStreamEndsWithTheOutcome() async {
        let bus = EventBus(now: { t0 })
        bus.publish(event(.qr("QR-1", expiresAt: t0)))
        bus.publish(event(.qr("QR-2", expiresAt: t0)))
        let watch = bus.pairings.watch(pairing, deadline: t0.addingTimeInterval(180))
        #expect(!watch.needsReplay)
        bus.publish(event(.paired(jid: "15551234567:3@s.whatsapp.net")))
        bus.publish(event(.ended(.paired, detail: nil)))
        bus.publish(event(.qr("after the end", expiresAt: t0)))
        var seen: [PairingUpdate] = []
        for await update in watch.updates { seen.append(update) }
        #expect(seen == [.qr("QR-2", expiresAt: t0), .paired(jid: "15551234567:3@s.whatsapp.net"), .ended(.paired, detail: nil)])
        #expect(bus.pairings.showing(pairing) == nil)
    }

    @Test func publishedEventsLeaveForOtherInstancesAndReceivedOnesDoNot() async {
        let bus = EventBus(now: { t0 })
        var outbound = bus.outbound.makeAsyncIterator()
        bus.receive(event(.qr("from elsewhere", expiresAt: t0)))
        #expect(bus.pairings.showing(pairing) == .qr("from elsewhere", expiresAt: t0))
        bus.publish(event(.qr("mine", expiresAt: t0)))
        #expect(await outbound.next() == event(.qr("mine", expiresAt: t0)))
    }

    @Test func onlyTheOwnerAnswersAReplayAndAWatcherOfAnUnknownPairingAsksForOne() async {
        let owner = EventBus(now: { t0 })
        let other = EventBus(now: { t0 })
        var sent = owner.outbound.makeAsyncIterator()
        owner.publish(event(.code("ABCD-EFGH", expiresAt: t0)))
        #expect(await sent.next() == event(.code("ABCD-EFGH", expiresAt: t0)))

        let watch = other.pairings.watch(pairing, deadline: t0.addingTimeInterval(180))
        #expect(watch.needsReplay)
        other.receive(event(.code("ABCD-EFGH", expiresAt: t0)))
        // Another instance that heard the pairing does not answer for it.
        other.republish(pairingID: pairing)
        owner.republish(pairingID: pairing)
        #expect(await sent.next() == event(.code("ABCD-EFGH", expiresAt: t0)))
        var updates = watch.updates.makeAsyncIterator()
        #expect(await updates.next() == .code("ABCD-EFGH", expiresAt: t0))
    }

    @Test func pairingsAreForgottenAMinuteAfterTheirDeadline() {
        let clock = ManualClock(start: t0)
        let bus = EventBus(now: { clock.date })
        bus.publish(event(.qr("QR-1", expiresAt: t0)))
        clock.advance(by: .seconds(180 + 61))
        // Any later activity prunes.
        _ = bus.pairings.watch(UUID(), deadline: clock.date)
        #expect(bus.pairings.current(pairing).latest == nil)
    }
}
