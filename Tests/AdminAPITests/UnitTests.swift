@testable import AdminAPI
import DevicePool
import Foundation
import PostgresStore
import Testing
import WAClient

@Suite("Pairing links, the pairing rate limit, masked numbers, fleet messages")
struct UnitTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aLinkIsValidForItsPairingUntilItExpires() {
        let signer = PairingLinkSigner(key: Array(repeating: 7, count: 32))
        let pairing = UUID()
        let link = signer.sign(pairingID: pairing, expiresAt: now.addingTimeInterval(180))
        let check = { (pairing: String?, expires: String?, sig: String?, at: Date) in
            signer.check(pairing: pairing, expires: expires, signature: sig, now: at)
        }
        #expect(check(pairing.uuidString, String(link.expires), link.signature, now) == .valid(pairingID: pairing))
        #expect(check(pairing.uuidString, String(link.expires), link.signature, now.addingTimeInterval(181)) == .expired)
        #expect(check(UUID().uuidString, String(link.expires), link.signature, now) == .invalid)
        #expect(check(pairing.uuidString, String(link.expires + 3600), link.signature, now) == .invalid)
        // One character of the signature changed (to a different one: a random pairing id's
        // signature starts with "A" one time in 64).
        let altered = (link.signature.first == "A" ? "B" : "A") + link.signature.dropFirst()
        #expect(check(pairing.uuidString, String(link.expires), altered, now) == .invalid)
        #expect(check(pairing.uuidString, nil, link.signature, now) == .invalid)
        let other = PairingLinkSigner(key: Array(repeating: 8, count: 32))
        #expect(other.check(pairing: pairing.uuidString, expires: String(link.expires), signature: link.signature, now: now) == .invalid)
    }

    @Test func theRateLimitAllowsABurstThenRefillsPerTenant() {
        let limiter = PairingRateLimiter(perMinute: 6, burst: 2)
        let acme = UUID()
        #expect(limiter.take(tenantID: acme, now: now) == nil)
        #expect(limiter.take(tenantID: acme, now: now) == nil)
        let wait = limiter.take(tenantID: acme, now: now)
        #expect(wait == .seconds(10))
        #expect(limiter.take(tenantID: UUID(), now: now) == nil)
        #expect(limiter.take(tenantID: acme, now: now.addingTimeInterval(10)) == nil)
        #expect(limiter.take(tenantID: acme, now: now.addingTimeInterval(10)) != nil)
    }

    @Test func numbersShowOnlyTheirLastFourDigits() {
        #expect(MaskedNumber.from(jid: "15551234567:4@s.whatsapp.net") == "•••4567")
        #expect(MaskedNumber.from(jid: "4915112345678@s.whatsapp.net") == "•••5678")
        #expect(MaskedNumber.from(jid: "1234567@s.whatsapp.net") == "•••4567")
        #expect(MaskedNumber.from(jid: "1234@s.whatsapp.net") == "•••")
        #expect(MaskedNumber.from(jid: "abc@lid") == nil)
        #expect(MaskedNumber.from(jid: nil) == nil)
    }

    @Test func historyCursorsRoundTripAndRejectGarbage() throws {
        let cursor = HistoryCursor(at: now, kind: .disconnect, id: 42)
        #expect(cursor.token == "1800000000000000-d-42")
        #expect(HistoryCursor(token: cursor.token) == cursor)
        for garbage in ["", "1-x-2", "1-t", "-1-t-2", "1-t-2-3", "１-t-2", "9999999999999999999-t-1"] {
            #expect(HistoryCursor(token: garbage) == nil, "\(garbage)")
        }
    }

    @Test func metricsGetAHelpLineBeforeEachType() {
        let text = "# TYPE pairgate_leases_lost_total counter\npairgate_leases_lost_total 0\n# TYPE other_thing gauge\nother_thing 1\n"
        let helped = MetricsExposition.withHelp(text)
        #expect(helped.hasPrefix("# HELP pairgate_leases_lost_total Devices this instance stopped"))
        #expect(helped.contains("# HELP other_thing Pairgate metric other_thing.\n# TYPE other_thing gauge"))
        #expect(helped.hasSuffix("other_thing 1\n"))
    }

    @Test func fleetMessagesRoundTripUnderNotifysLimitAndOversizedOnesAreRefused() throws {
        let pairing = PairingEvent(
            pairingID: UUID(), tenantID: UUID(), deviceID: UUID(), deadline: now,
            update: .qr("2@" + String(repeating: "A", count: 200), expiresAt: now)
        )
        for message in [
            FleetMessage(from: "gateway-a", body: .event(.pairing(pairing))),
            FleetMessage(from: "gateway-b", body: .resetResult(ResetReply(id: UUID(), to: "gateway-a", outcome: .applied(.unpaired)))),
            FleetMessage(from: "gateway-b", body: .resetResult(ResetReply(id: UUID(), to: "gateway-a", outcome: .elsewhere(owner: "gateway-c")))),
            // The largest handover one message carries, from and to instance ids of 64 characters.
            FleetMessage(from: String(repeating: "a", count: 64), body: .handover(Handover(
                to: String(repeating: "b", count: 64), devices: (0..<FleetBus.handoverBatch).map { _ in UUID() }
            ))),
            FleetMessage(from: "pairgate-drain", body: .drain(instance: "gateway-a")),
        ] {
            let payload = try message.payload()
            #expect(payload.utf8.count < FleetMessage.payloadLimit)
            #expect(try JSONDecoder().decode(FleetMessage.self, from: Data(payload.utf8)) == message)
        }
        var huge = pairing
        huge.update = .ended(.failed, detail: String(repeating: "x", count: FleetMessage.payloadLimit))
        #expect(throws: FleetMessage.TooLarge.self) { try FleetMessage(from: "gateway-a", body: .event(.pairing(huge))).payload() }
    }
}
