import Foundation
import Messaging
import PairgateTestSupport
import Signal
import Testing
import WAClient
import WAWire

/// Messages that do not decrypt: the retry receipt, then the ack (messaging.md §5.1), with counts that
/// continue from the resend's `<enc count>` so they survive restarts.
@Suite struct RetryReceiptTests {
    typealias F = ReceiveFixture

    /// A `msg` that fails its MAC: a byte of the ciphertext flipped.
    static func tampered(_ enc: Node) -> Node {
        var enc = enc
        var bytes = enc.bytes ?? []
        bytes[bytes.count - 12] ^= 0x01
        enc.content = .bytes(bytes)
        return enc
    }

    @Test func theFirstRetryReceiptCarriesOnlyTheRegistrationAndIsFollowedByAnAck() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("ok"))], id: "OK"))
        let broken = ann.direct([Self.tampered(try ann.encrypt(TestContact.text("broken")))], id: "3EB0BROKEN", t: 1_760_000_500)
        let result = try await fixture.receive(broken)

        #expect(result.report.disposition == .decryptFailed(reason: "invalid_mac"))
        #expect(result.report.retryReceipt == 1)
        #expect(result.summary == ["receipt:retry", "ack:message"])
        let retry = try result.answers[0].onTheWire
        #expect(retry.attributes["id"] == "3EB0BROKEN")
        #expect(retry.attributes["to"] == .jid(ann.lidDevice))
        #expect(retry.child("retry")?.attributes["count"] == "1")
        #expect(retry.child("retry")?.attributes["t"] == "1760000500")
        #expect(retry.child("retry")?.attributes["id"] == "3EB0BROKEN")
        #expect(retry.child("registration")?.bytes == KeyBundle.bigEndianForTests(fixture.credentials.registrationID))
        #expect(retry.child("keys") == nil)
        let ack = try result.answers[1].onTheWire
        #expect(ack.attributes["class"] == "message")
        #expect(ack.attributes["id"] == "3EB0BROKEN")
        #expect(ack.attributes["to"] == .jid(ann.lidDevice))
        #expect(ack.attributes["type"] == nil)
        #expect(fixture.store.snapshot.inbox.count == 1)
    }

    @Test func aResendThatFailsAgainAsksWithKeysAndTheCountGoesOnFromTheResend() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("ok"))], id: "OK"))
        let resend = ann.direct([Self.tampered(try ann.encrypt(TestContact.text("again"), count: 1))], id: "R")
        let result = try await fixture.receive(resend)
        #expect(result.report.retryReceipt == 2)
        let retry = try result.answers[0].onTheWire
        let keys = try #require(retry.child("keys"))
        #expect(keys.child("type")?.bytes == [5])
        #expect(keys.child("identity")?.bytes == fixture.device.identity.keyPair.publicKey)
        #expect(keys.child("skey")?.child("signature")?.bytes == fixture.credentials.signedPreKeySignature)
        #expect(keys.child("device-identity")?.bytes == [0x0A, 0x01, 0x02])
        // Each retry key is new: a second one takes the next id of the retry range.
        _ = try await fixture.receive(ann.direct([Self.tampered(try ann.encrypt(TestContact.text("3"), count: 2))], id: "R3"))
        #expect(fixture.store.snapshot.retryPreKeys == 2)
    }

    @Test func afterTheFifthAttemptOnlyTheAckIsSent() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("ok"))], id: "OK"))
        let result = try await fixture.receive(ann.direct([Self.tampered(try ann.encrypt(TestContact.text("x"), count: 4))], id: "GIVEUP"))
        #expect(result.report.disposition == .decryptFailed(reason: "invalid_mac"))
        #expect(result.report.retryReceipt == nil)
        #expect(result.summary == ["ack:message"])
    }

    @Test func aMessageWithoutASessionAsksForAResend() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        // The `msg` inside Ann's first `pkmsg`, as if the stanza that set the session up never came.
        let pkmsg = try ann.encrypt(TestContact.text("lost"))
        let inner = try PreKeyWhisperMessage(parsing: pkmsg.bytes ?? []).message.serialized
        let result = try await fixture.receive(ann.direct([TestContact.enc("msg", inner)], id: "NOSESSION"))
        #expect(result.report.disposition == .decryptFailed(reason: "no_session"))
        #expect(result.summary == ["receipt:retry", "ack:message"])
    }

    @Test func paddingThatDoesNotCheckOutIsADecryptFailureButTheKeyIsSpent() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("ok"))], id: "OK"))
        let before = fixture.store.snapshot.sessions
        // A plaintext whose last byte is 0: not WhatsApp padding.
        let result = try await fixture.receive(ann.direct([try ann.encrypt(plaintext: [0x0A, 0x01, 0x41, 0x00])], id: "PAD"))
        #expect(result.report.disposition == .decryptFailed(reason: "invalid_padding"))
        #expect(fixture.store.snapshot.sessions != before)
    }
}

extension KeyBundle {
    static func bigEndianForTests(_ value: UInt32) -> [UInt8] {
        (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
