import FleetHarness
import Foundation
import Testing
import WASim

/// The chaos run's send invariants must be able to say FAIL: each is fed what a lost, doubled,
/// invented or unfenced message would look like.
@Suite struct SendInvariantsTests {
    let device = FleetInvariants.KeptDevice(deviceID: UUID(), jid: "15552000000:1@s.whatsapp.net")
    let contact = "15559000001"
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    var run: FleetInvariants.RunRecord {
        var run = FleetInvariants.RunRecord()
        run.kept = [device]
        return run
    }

    var accepted: FleetInvariants.AcceptedSend {
        .init(id: "0b6f0f43-0000-4000-8000-000000000001", waID: "3EB0AA01", deviceID: device.deviceID, device: device.jid, recipient: contact, key: "k1")
    }

    func load(_ messages: [FleetInvariants.AcceptedSend]? = nil, unclear: [FleetInvariants.UnclearSend] = [], queued: [String: FleetInvariants.AcceptedSend] = [:]) -> FleetInvariants.SendLoadView {
        let messages = messages ?? [accepted]
        return .init(requests: messages.count + unclear.count + 1, accepted: messages, refused: ["503 database_unavailable": 1], unclear: unclear, queuedByKey: queued)
    }

    func row(_ status: String, reason: String? = nil, attempts: Int = 1) -> [String: FleetInvariants.OutboundRow] {
        [accepted.waID: .init(waID: accepted.waID, status: status, failureReason: reason, attempts: attempts)]
    }

    func arrival(_ id: String? = nil, contact: String? = nil, outcome: SimReceiveOutcome = .received, peer: String = "127.0.0.1:40001", after seconds: Double = 1) -> SimArrival {
        SimArrival(
            id: id ?? accepted.waID, contact: contact ?? self.contact, device: device.jid, outcome: outcome, connection: 7, peer: peer,
            at: start.addingTimeInterval(seconds)
        )
    }

    func attempt(_ number: Int = 1, instance: String = "a1", epoch: Int64 = 3, connection: String = "127.0.0.1:40001", at seconds: Double = 0.5) -> FleetInvariants.SendAttempt {
        .init(
            waID: accepted.waID, device: device.jid, attempt: number, instance: instance, epoch: epoch,
            leaseExpiresAt: start.addingTimeInterval(30), connection: connection, committedAt: start.addingTimeInterval(seconds)
        )
    }

    var holders: [FleetInvariants.EpochHolder] {
        [.init(device: device.jid, epoch: 3, instance: "a1", firstAt: start)]
    }

    @Test func aMessageReadOnceWithItsReceiptsHolds() {
        let check = FleetInvariants.sendsExactlyOnce(load: load(), outbound: row("read"), arrivals: [arrival()], run: run)
        #expect(check.passed, "\(check.line)")
        // A resend of the same id after a crash is dropped by the contact: counted, not a failure.
        let resent = FleetInvariants.sendsExactlyOnce(
            load: load(), outbound: row("delivered", attempts: 2), arrivals: [arrival(), arrival(outcome: .duplicate, after: 5)], run: run
        )
        #expect(resent.passed, "\(resent.line)")
        #expect(resent.detail.contains("1 redeliveries"))
    }

    @Test func aLostMessageFails() {
        let check = FleetInvariants.sendsExactlyOnce(load: load(), outbound: row("sent"), arrivals: [], run: run)
        #expect(!check.passed)
        #expect(check.detail.contains("never reached"), "\(check.detail)")
    }

    @Test func aMessageLeftQueuedOrFailedWithoutAReasonFails() {
        #expect(!FleetInvariants.sendsExactlyOnce(load: load(), outbound: row("queued"), arrivals: [], run: run).passed)
        #expect(!FleetInvariants.sendsExactlyOnce(load: load(), outbound: row("failed"), arrivals: [], run: run).passed)
        #expect(FleetInvariants.sendsExactlyOnce(load: load(), outbound: row("failed", reason: "logged_out"), arrivals: [], run: run).passed)
    }

    @Test func aSecondIdForTheSameSendOrAWrongContactFails() {
        // A retry that chose a new WhatsApp id: the contact reads an id the API never accepted.
        let invented = FleetInvariants.sendsExactlyOnce(load: load(), outbound: row("read"), arrivals: [arrival(), arrival("3EB0FF")], run: run)
        #expect(!invented.passed)
        #expect(invented.detail.contains("never accepted"), "\(invented.detail)")
        let misrouted = FleetInvariants.sendsExactlyOnce(load: load(), outbound: row("read"), arrivals: [arrival(contact: "15559000002")], run: run)
        #expect(!misrouted.passed)
    }

    @Test func aReceiptNeverRecordedFails() {
        let check = FleetInvariants.sendsExactlyOnce(load: load(), outbound: row("sent"), arrivals: [arrival()], run: run)
        #expect(!check.passed)
        #expect(check.detail.contains("receipt"), "\(check.detail)")
    }

    @Test func aRefusedRequestThatWasQueuedAnywayFailsAndALostAnswerCounts() {
        var refused = accepted
        refused.key = "k2"
        refused.waID = "3EB0AA02"
        let queuedAnyway = FleetInvariants.sendsExactlyOnce(load: load(queued: ["k2": refused]), outbound: row("read"), arrivals: [arrival()], run: run)
        #expect(!queuedAnyway.passed)
        #expect(queuedAnyway.detail.contains("was refused, yet"), "\(queuedAnyway.detail)")
        // An answer lost with the gateway: its key found queued makes it one of the load's messages.
        let lost = FleetInvariants.sendsExactlyOnce(
            load: load([], unclear: [.init(key: "k1", problem: "no answer within 30 seconds")], queued: ["k1": accepted]),
            outbound: row("read"), arrivals: [arrival()], run: run
        )
        #expect(lost.passed, "\(lost.line)")
        let unclear = FleetInvariants.sendsExactlyOnce(
            load: load(unclear: [.init(key: "k3", problem: "answered 500 without a problem+json body")]), outbound: row("read"), arrivals: [arrival()], run: run
        )
        #expect(!unclear.passed)
    }

    @Test func aCopyWrittenUnderTheLeaseOnItsAttemptsConnectionHolds() {
        let check = FleetInvariants.sentUnderLease(arrivals: [arrival()], attempts: [attempt()], holders: holders)
        #expect(check.passed, "\(check.line)")
    }

    @Test func aCopyWithoutACommittedAttemptOrFromAnotherConnectionFails() {
        // Written before its commit (or without one).
        let early = FleetInvariants.sentUnderLease(arrivals: [arrival(after: 0.2)], attempts: [attempt()], holders: holders)
        #expect(!early.passed)
        #expect(early.detail.contains("no attempt committed before it"), "\(early.detail)")
        // Another instance's connection wrote it while a1 committed.
        let elsewhere = FleetInvariants.sentUnderLease(arrivals: [arrival(peer: "127.0.0.1:40002")], attempts: [attempt()], holders: holders)
        #expect(!elsewhere.passed)
    }

    @Test func aCopyAfterTheLeaseExpiredOrALaterEpochBeganFails() {
        let late = FleetInvariants.sentUnderLease(arrivals: [arrival(after: 31)], attempts: [attempt()], holders: holders)
        #expect(!late.passed)
        #expect(late.detail.contains("expired"), "\(late.detail)")
        let taken = holders + [.init(device: device.jid, epoch: 4, instance: "b1", firstAt: start.addingTimeInterval(0.8))]
        let overtaken = FleetInvariants.sentUnderLease(arrivals: [arrival()], attempts: [attempt()], holders: taken)
        #expect(!overtaken.passed)
        #expect(overtaken.detail.contains("later lease epoch"), "\(overtaken.detail)")
    }

    @Test func anEpochUsedByTwoInstancesFails() {
        let shared = FleetInvariants.sentUnderLease(arrivals: [arrival()], attempts: [attempt(instance: "b1")], holders: holders)
        #expect(!shared.passed)
        #expect(shared.detail.contains("was used by a1 and b1"), "\(shared.detail)")
    }
}
