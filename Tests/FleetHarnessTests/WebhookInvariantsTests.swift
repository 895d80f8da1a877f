import FleetHarness
import Foundation
import Testing
import WAWire
import Webhooks

/// The chaos run's webhook invariants must be able to say FAIL: each is fed what a lost, reordered,
/// forged or invented event would look like.
@Suite struct WebhookInvariantsTests {
    let tenant = UUID(), device = UUID(), pairing = UUID()
    var random = SeededRandom(seed: 3)

    private mutating func event(_ data: EventData, sequence: Int64, deliveries: [String] = ["delivered"]) throws -> FleetInvariants.CommittedEvent {
        let event = WebhookEvent(data, tenantID: tenant, deviceID: device, now: Date(), random: &random)
        return .init(id: event.id.description, tenant: tenant, device: device, stream: device, sequence: sequence, body: try event.jsonBody(), deliveries: deliveries)
    }

    private static func state(_ from: String, _ to: String) -> EventData {
        .deviceState(DeviceStateChanged(from: from, to: to, stateReason: nil, reason: "test", decision: nil, nextAttemptAt: nil))
    }

    private func received(_ event: FleetInvariants.CommittedEvent, accepted: Bool = true, authentic: Bool = true, body: [UInt8]? = nil) -> FleetInvariants.ReceivedWebhook {
        .init(path: "/hooks/0", id: event.id, accepted: accepted, authentic: authentic, body: body ?? event.body)
    }

    @Test mutating func aLostAnUnfinishedOrAlteredEventFailsDelivery() throws {
        let first = try event(Self.state("unpaired", "pairing"), sequence: 1), second = try event(Self.state("pairing", "paired"), sequence: 2)
        let paths = [tenant: "/hooks/0"]
        let all = [received(first), received(second)]
        #expect(FleetInvariants.webhooksDelivered(committed: [first, second], received: all, paths: paths).passed)
        #expect(!FleetInvariants.webhooksDelivered(committed: [first, second], received: [received(first)], paths: paths).passed)
        #expect(!FleetInvariants.webhooksDelivered(committed: [first, second], received: [received(first), received(second, accepted: false)], paths: paths).passed)
        #expect(!FleetInvariants.webhooksDelivered(committed: [first, second], received: [received(first), received(second, body: [1])], paths: paths).passed)
        var pending = second
        pending.deliveries = ["delivered", "pending"]
        #expect(!FleetInvariants.webhooksDelivered(committed: [first, pending], received: all, paths: paths).passed)
        #expect(!FleetInvariants.webhooksDelivered(committed: [], received: [], paths: paths).passed, "a run with no event proves nothing")
    }

    @Test mutating func aLaterEventBeforeAnEarlierOneFailsTheOrderButARepeatDoesNot() throws {
        let one = try event(Self.state("unpaired", "pairing"), sequence: 1)
        let two = try event(Self.state("pairing", "paired"), sequence: 2), three = try event(Self.state("paired", "connecting"), sequence: 3)
        let committed = [one, two, three]
        #expect(FleetInvariants.webhooksInOrder(committed: committed, received: [one, two, two, three].map { received($0) }).passed)
        #expect(FleetInvariants.webhooksInOrder(committed: committed, received: [received(one, accepted: false), received(one), received(two)]).passed)
        #expect(!FleetInvariants.webhooksInOrder(committed: committed, received: [one, three, two].map { received($0) }).passed)
        #expect(!FleetInvariants.webhooksInOrder(committed: committed, received: [one, two, one].map { received($0) }).passed)
        #expect(!FleetInvariants.webhooksInOrder(committed: [one], received: [received(two)]).passed, "an event nobody committed")
    }

    @Test mutating func oneForgedRequestFailsTheSignatures() throws {
        let one = try event(Self.state("unpaired", "pairing"), sequence: 1)
        #expect(FleetInvariants.webhooksAuthentic([received(one)]).passed)
        #expect(!FleetInvariants.webhooksAuthentic([received(one), received(one, authentic: false)]).passed)
    }

    @Test mutating func anEventWithoutItsChangeOrAChangeWithoutItsEventFails() throws {
        let pairing = self.pairing
        let events = [
            try event(Self.state("unpaired", "pairing"), sequence: 1),
            try event(.pairingUpdated(PairingUpdated(pairingID: pairing, method: .qr, sequence: 1, expiresAt: Date(), pairingExpiresAt: Date())), sequence: 2),
            try event(Self.state("pairing", "paired"), sequence: 3),
            try event(.pairingEnded(PairingEnded(pairingID: pairing, method: .qr, outcome: .paired, detail: nil)), sequence: 4),
        ]
        func changes(_ transitions: [String], codes: Int = 1, outcome: String? = "paired") -> FleetInvariants.Changes {
            .init(transitions: [device: transitions], pairings: [pairing: .init(codes: codes, outcome: outcome)])
        }
        let history = ["unpaired→pairing", "pairing→paired"]
        #expect(FleetInvariants.webhooksMatchChanges(committed: events, changes: changes(history)).passed)
        #expect(!FleetInvariants.webhooksMatchChanges(committed: events, changes: changes(Array(history.prefix(1)))).passed, "an event for a rolled-back change")
        #expect(!FleetInvariants.webhooksMatchChanges(committed: events, changes: changes(history + ["paired→connecting"])).passed, "a change without its event")
        #expect(!FleetInvariants.webhooksMatchChanges(committed: events, changes: changes(history.reversed())).passed, "the events out of order")
        #expect(!FleetInvariants.webhooksMatchChanges(committed: events, changes: changes(history, codes: 2)).passed)
        #expect(!FleetInvariants.webhooksMatchChanges(committed: events, changes: changes(history, outcome: "timeout")).passed)
        #expect(!FleetInvariants.webhooksMatchChanges(committed: events, changes: changes(history, outcome: nil)).passed)
        let logout = try event(Self.state("pairing", "logged_out"), sequence: 5)
        #expect(!FleetInvariants.webhooksMatchChanges(committed: events + [logout], changes: changes(history + ["pairing→logged_out"])).passed,
                "a logout without device.logged_out")
    }
}
