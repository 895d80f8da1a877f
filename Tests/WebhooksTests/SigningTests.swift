import Foundation
import PairgateTestSupport
import Testing
import WAWire
@testable import Webhooks

/// Standard Webhooks signing and verification: the reference libraries' known answer, rotation,
/// and every way a received webhook is refused.
@Suite struct SigningTests {
    /// The vector in the Standard Webhooks reference libraries' tests (Python, JavaScript, Go).
    static let referenceSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let referenceID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let referenceBody = Array(#"{"test": 2432232314}"#.utf8)
    static let referenceTime = Date(timeIntervalSince1970: 1_614_265_330)

    @Test func signatureMatchesTheReferenceLibrariesKnownAnswer() throws {
        let secret = try WebhookSecret(parsing: Self.referenceSecret)
        #expect(secret.bytes.count == 24)
        let headers = WebhookSigner.sign(id: Self.referenceID, timestamp: Self.referenceTime, body: Self.referenceBody, secrets: [secret])
        #expect(headers.signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(headers.timestamp == 1_614_265_330)
        #expect(headers.fields.map(\.name) == ["webhook-id", "webhook-timestamp", "webhook-signature"])
    }

    @Test func timestampIsWholeSecondsRoundedDown() throws {
        let secret = try WebhookSecret(parsing: Self.referenceSecret)
        let headers = WebhookSigner.sign(id: "evt_1", timestamp: Date(timeIntervalSince1970: 1_700_000_000.999), body: [], secrets: [secret])
        #expect(headers.timestamp == 1_700_000_000)
    }

    @Test func aRotationSendsBothSignaturesCurrentFirst() throws {
        var random = SeededRandom(seed: 1)
        let current = WebhookSecret.generate(using: &random), previous = WebhookSecret.generate(using: &random)
        let body = Array("{}".utf8)
        let both = WebhookSigner.sign(id: "evt_a", timestamp: Self.referenceTime, body: body, secrets: [current, previous])
        let onlyCurrent = WebhookSigner.sign(id: "evt_a", timestamp: Self.referenceTime, body: body, secrets: [current])
        let onlyPrevious = WebhookSigner.sign(id: "evt_a", timestamp: Self.referenceTime, body: body, secrets: [previous])
        #expect(both.signature == onlyCurrent.signature + " " + onlyPrevious.signature)
        for secret in [current, previous] {
            try WebhookVerifier(secrets: [secret]).verify(
                body: body, id: both.id, timestamp: String(both.timestamp), signature: both.signature, now: Self.referenceTime
            )
        }
    }

    @Test func verifierAcceptsHeadersInAnyCaseAndIgnoresOtherVersions() throws {
        let secret = try WebhookSecret(parsing: Self.referenceSecret)
        let signed = WebhookSigner.sign(id: Self.referenceID, timestamp: Self.referenceTime, body: Self.referenceBody, secrets: [secret])
        let headers = [
            "Webhook-Id": signed.id,
            "WEBHOOK-TIMESTAMP": String(signed.timestamp),
            // The reference tests' mix: unknown versions and a wrong v1 around the right one.
            "webhook-signature": "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= \(signed.signature) v1a,abc",
        ]
        try WebhookVerifier(secrets: [secret]).verify(body: Self.referenceBody, headers: headers, now: Self.referenceTime)
    }

    @Test func verifierRefusesEveryAlteration() throws {
        let secret = try WebhookSecret(parsing: Self.referenceSecret)
        let signed = WebhookSigner.sign(id: Self.referenceID, timestamp: Self.referenceTime, body: Self.referenceBody, secrets: [secret])
        let time = String(signed.timestamp)
        func code(
            body: [UInt8] = SigningTests.referenceBody, id: String? = SigningTests.referenceID, timestamp: String? = nil,
            signature: String? = nil, now: Date = SigningTests.referenceTime, verifier: WebhookVerifier? = nil
        ) -> WebhookVerificationError.Code? {
            do {
                try (verifier ?? WebhookVerifier(secrets: [secret])).verify(
                    body: body, id: id, timestamp: timestamp ?? time, signature: signature ?? signed.signature, now: now
                )
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code() == nil)
        #expect(code(body: Array(#"{"test": 2432232315}"#.utf8)) == .noMatchingSignature)
        #expect(code(id: "msg_other") == .noMatchingSignature)
        #expect(code(timestamp: String(signed.timestamp + 1)) == .noMatchingSignature)
        #expect(code(id: nil) == .missingHeaders)
        #expect(code(id: "") == .missingHeaders)
        #expect(code(signature: "") == .missingHeaders)
        #expect(code(timestamp: "hello") == .invalidTimestamp)
        #expect(code(timestamp: "0" + time) == .invalidTimestamp)
        #expect(code(timestamp: time + ".5") == .invalidTimestamp)
        #expect(code(now: Self.referenceTime.addingTimeInterval(301)) == .timestampTooOld)
        #expect(code(now: Self.referenceTime.addingTimeInterval(-301)) == .timestampTooNew)
        #expect(code(now: Self.referenceTime.addingTimeInterval(300)) == nil)
        #expect(code(signature: String(signed.signature.prefix(8))) == .noMatchingSignature)
        #expect(code(signature: "v1,") == .noMatchingSignature)
        #expect(code(signature: signed.signature.replacingOccurrences(of: "v1,", with: "v2,")) == .noMatchingSignature)
        var random = SeededRandom(seed: 2)
        #expect(code(verifier: WebhookVerifier(secrets: [.generate(using: &random)])) == .noMatchingSignature)
        #expect("\(WebhookVerificationError(.noMatchingSignature))" == "WebhookVerificationError(no_matching_signature)")
    }

    @Test func secretsAreWhsecAndBase64OfTwentyFourToSixtyFourBytes() throws {
        var random = SeededRandom(seed: 3)
        let secret = WebhookSecret.generate(using: &random)
        #expect(secret.bytes.count == 32)
        #expect(secret.serialized.hasPrefix("whsec_"))
        #expect(try WebhookSecret(parsing: secret.serialized) == secret)
        #expect(WebhookSecret.generate(byteCount: 8, using: &random).bytes.count == 24)
        #expect(WebhookSecret.generate(byteCount: 100, using: &random).bytes.count == 64)
        #expect(WebhookSecret.generate().bytes.count == 32)
        #expect(WebhookSecret.generate() != WebhookSecret.generate())
        for bad in ["", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64", "whsec_" + Data(count: 23).base64EncodedString(),
                    "whsec_" + Data(count: 65).base64EncodedString()] {
            #expect(throws: WebhookSecretError.self) { try WebhookSecret(parsing: bad) }
        }
        #expect("\(secret)" == "WebhookSecret(redacted)")
        #expect(!"\(secret)".contains(secret.serialized.dropFirst(6)))
    }
}
