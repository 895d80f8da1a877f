import Foundation
import PairgateTestSupport
import Testing
@testable import Webhooks

/// Everything a tenant or a receiver controls is parsed here: URLs, Retry-After, the signature
/// headers, event ids, secrets and event bodies. Random and mutated inputs never crash and only
/// fail with the documented errors (typed throws make the error type a compile-time fact).
@Suite struct WebhooksFuzzTests {
    static let rounds = 100_000

    /// Printable ASCII with a bias to the characters that matter to each parser, sometimes raw bytes.
    static func text(_ random: inout SeededRandom, from alphabet: [UInt8], maximumLength: Int) -> String {
        let length = Int.random(in: 0...maximumLength, using: &random)
        var bytes: [UInt8] = []
        for _ in 0..<length {
            bytes.append(Int.random(in: 0..<10, using: &random) == 0 ? UInt8.random(in: 0...255, using: &random) : alphabet.randomElement(using: &random)!)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func mutate(_ seed: String, _ random: inout SeededRandom, alphabet: [UInt8]) -> String {
        var bytes = Array(seed.utf8)
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let index = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0 where !bytes.isEmpty: bytes.remove(at: index)
            case 1: bytes.insert(alphabet.randomElement(using: &random)!, at: index)
            default: if !bytes.isEmpty { bytes[index] = alphabet.randomElement(using: &random)! }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func urlValidationNeverCrashes() {
        var random = SeededRandom(seed: 0x0001)
        let alphabet = Array("httpsHTTPS:/[]@?#%.-_~0123456789abcdefxXlocalhost:\\ \t".utf8)
        let seeds = ["https://hooks.example.com:8443/in?x=1", "http://[::ffff:127.0.0.1]:80/", "http://127.0.0.1/", "https://user@host/", "http://0x7f.1/"]
        var accepted = 0
        for round in 0..<Self.rounds {
            let input = round % 2 == 0
                ? Self.text(&random, from: alphabet, maximumLength: 80)
                : Self.mutate(seeds[round % seeds.count], &random, alphabet: alphabet)
            do {
                let url = try WebhookURL(validating: input, policy: AddressPolicy())
                accepted += 1
                // Whatever passes is normalized to a URL that passes again, unchanged.
                #expect(try WebhookURL(validating: url.absoluteString, policy: AddressPolicy()) == url)
                if let literal = url.literalAddress { #expect(AddressPolicy().allows(literal)) }
            } catch {
                // A WebhookURLError with a stable code; not crashing is what is tested.
            }
        }
        #expect(accepted > 1000)
    }

    @Test func retryAfterParsingNeverCrashes() {
        var random = SeededRandom(seed: 0x0002)
        let alphabet = Array("0123456789 ,:-SunMonNovGMTgmt".utf8)
        let seeds = ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "120"]
        for round in 0..<Self.rounds {
            let input = round % 2 == 0
                ? Self.text(&random, from: alphabet, maximumLength: 40)
                : Self.mutate(seeds[round % seeds.count], &random, alphabet: alphabet)
            if let value = RetryAfter(headerValue: input) {
                _ = value.delay(from: Date(timeIntervalSince1970: 1_777_636_800))
            }
        }
    }

    @Test func signatureVerificationNeverCrashesAndNeverAcceptsForgeries() throws {
        var random = SeededRandom(seed: 0x0003)
        let secret = WebhookSecret.generate(using: &random)
        let verifier = WebhookVerifier(secrets: [secret])
        let now = Date(timeIntervalSince1970: 1_777_636_800)
        let body = Array(#"{"a":1}"#.utf8)
        let genuine = WebhookSigner.sign(id: "evt_01h455vb4pex5vsknk084sn02q", timestamp: now, body: body, secrets: [secret])
        let genuineMAC = Data(base64Encoded: String(genuine.signature.dropFirst(3)))
        let alphabet = Array("v1a2,+/=ABCxyz0123456789 .".utf8)
        for round in 0..<Self.rounds {
            let signature = round % 2 == 0
                ? Self.text(&random, from: alphabet, maximumLength: 120)
                : Self.mutate(genuine.signature, &random, alphabet: alphabet)
            let timestamp = round % 7 == 0 ? Self.mutate(String(genuine.timestamp), &random, alphabet: alphabet) : String(genuine.timestamp)
            let id = round % 5 == 0 ? Self.mutate(genuine.id, &random, alphabet: alphabet) : genuine.id
            do {
                try verifier.verify(body: body, id: id, timestamp: timestamp, signature: signature, now: now)
                // Only the genuine MAC over the genuine id and time passes (a mutation of the
                // base64's unused low bits still decodes to it, and that is no forgery).
                #expect(id == genuine.id && timestamp == String(genuine.timestamp))
                #expect(signature.split(separator: " ").contains { $0.hasPrefix("v1,") && Data(base64Encoded: String($0.dropFirst(3))) == genuineMAC })
            } catch {
                // A WebhookVerificationError.
            }
        }
    }

    @Test func eventIDsSecretsAndTimesNeverCrash() {
        var random = SeededRandom(seed: 0x0004)
        let base32 = Array("0123456789abcdefghjkmnpqrstvwxyzABCZ_evt".utf8)
        let base64 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_whsec".utf8)
        let digits = Array("0123456789-:TZ.".utf8)
        for round in 0..<Self.rounds {
            let id = Self.mutate("evt_01h455vb4pex5vsknk084sn02q", &random, alphabet: base32)
            if let parsed = EventID(id) { #expect(parsed.description == id) }
            let secret = round % 2 == 0 ? Self.mutate("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &random, alphabet: base64)
                : Self.text(&random, from: base64, maximumLength: 120)
            if let parsed = try? WebhookSecret(parsing: secret) { #expect(WebhookSecret.allowedByteCounts.contains(parsed.bytes.count)) }
            let time = Self.mutate("2026-05-01T12:00:03.250Z", &random, alphabet: digits)
            if let parsed = EventTime.parse(time) { #expect(EventTime.format(parsed) == time) }
        }
    }

    @Test func eventBodiesDecodeOrFailCleanly() throws {
        var random = SeededRandom(seed: 0x0005)
        let bodies = try CatalogueSamples.all.map { try $0.jsonBody() }
        let alphabet = Array("{}[]\":,0123456789abcdefnulltrue .-_".utf8)
        for round in 0..<Self.rounds {
            var bytes = bodies[round % bodies.count]
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let index = Int.random(in: 0..<bytes.count, using: &random)
                bytes[index] = alphabet.randomElement(using: &random)!
            }
            if let event = try? WebhookEvent(jsonBody: bytes) {
                // What decodes encodes again without error.
                _ = try event.jsonBody()
            }
        }
    }
}
