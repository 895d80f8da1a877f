import FleetHarness
import Foundation
import Testing

/// The chaos run's message invariants must be able to say FAIL: each is fed what a lost, doubled,
/// invented or unanswered message would look like.
@Suite struct MessageInvariantsTests {
    let kept = FleetInvariants.KeptDevice(deviceID: UUID(), jid: "15552000000:1@s.whatsapp.net")
    let other = FleetInvariants.KeptDevice(deviceID: UUID(), jid: "15552000000:2@s.whatsapp.net")
    let removed = FleetInvariants.RemovedDevice(deviceID: UUID(), jid: "15552000000:3@s.whatsapp.net", loginsAtRemoval: 1)

    var run: FleetInvariants.RunRecord {
        var run = FleetInvariants.RunRecord()
        run.kept = [kept, other]
        run.removed = [removed]
        return run
    }

    /// One 1:1 message and one group message, each queued for all three devices.
    var sent: [FleetInvariants.SentMessage] {
        let devices = [kept.jid, other.jid, removed.jid]
        return [
            .init(id: "3EB0A1", chat: "900000000000001@lid", sender: "900000000000001@lid", devices: devices),
            .init(id: "3EB0A2", chat: "120363000000000001@g.us", sender: "900000000000002@lid", devices: devices),
        ]
    }

    func stored(_ message: FleetInvariants.SentMessage, on device: UUID, rows: Int = 1) -> FleetInvariants.StoredMessage {
        .init(device: device, chat: message.chat, sender: message.sender, id: message.id, rows: rows)
    }

    var everyKeptCopy: [FleetInvariants.StoredMessage] {
        sent.flatMap { message in [stored(message, on: kept.deviceID), stored(message, on: other.deviceID)] }
    }

    @Test func everyKeptCopyOnceHoldsWhateverTheRemovedDeviceGot() {
        #expect(FleetInvariants.inboxExactlyOnce(sent: sent, stored: everyKeptCopy, run: run).passed)
        let withRemoved = everyKeptCopy + [stored(sent[0], on: removed.deviceID)]
        #expect(FleetInvariants.inboxExactlyOnce(sent: sent, stored: withRemoved, run: run).passed)
    }

    @Test func aLostCopyFails() {
        let check = FleetInvariants.inboxExactlyOnce(sent: sent, stored: Array(everyKeptCopy.dropLast()), run: run)
        #expect(!check.passed)
        #expect(check.detail.contains("never reached the inbox"), "\(check.detail)")
    }

    @Test func aCopyStoredTwiceFails() {
        var rows = everyKeptCopy
        rows[0].rows = 2
        #expect(!FleetInvariants.inboxExactlyOnce(sent: sent, stored: rows, run: run).passed)
    }

    @Test func aMessageNobodySentOrStoredUnderAnotherChatFails() {
        var invented = stored(sent[0], on: kept.deviceID)
        invented.id = "3EB0FF"
        #expect(!FleetInvariants.inboxExactlyOnce(sent: sent, stored: everyKeptCopy + [invented], run: run).passed)
        var rows = everyKeptCopy
        rows[0].chat = "15559000000@s.whatsapp.net"
        #expect(!FleetInvariants.inboxExactlyOnce(sent: sent, stored: rows, run: run).passed)
    }

    @Test func aRunThatSentNothingProvesNothing() {
        #expect(!FleetInvariants.inboxExactlyOnce(sent: [], stored: [], run: run).passed)
    }

    func delivery(closures: Int = 0, violations: [String: Int] = [:], pending: [String: Int] = [:]) -> FleetInvariants.DeliveryView {
        .init(
            offered: 10, acked: 10, redelivered: 2, retried: 0, ackDeadlineClosures: closures, answerViolations: violations,
            pending: pending, oldestPendingSeconds: pending.mapValues { _ in 75 }
        )
    }

    @Test func aDeadlineClosureARefusedAnswerOrAWaitingStanzaFails() {
        #expect(FleetInvariants.nothingLeftUnacked(delivery(), run: run).passed)
        #expect(FleetInvariants.nothingLeftUnacked(delivery(pending: [removed.jid: 4]), run: run).passed, "a removed device's queue stays")
        #expect(!FleetInvariants.nothingLeftUnacked(delivery(closures: 1), run: run).passed)
        #expect(!FleetInvariants.nothingLeftUnacked(delivery(violations: ["unexpected_answer": 1]), run: run).passed)
        let waiting = FleetInvariants.nothingLeftUnacked(delivery(pending: [kept.jid: 1]), run: run)
        #expect(!waiting.passed)
        #expect(waiting.detail.contains("the oldest 75 s"), "\(waiting.detail)")
    }
}
