import Foundation
import NIOPosix
import PairgateTestSupport
import Testing
import WAWire
@testable import Webhooks

/// Everything a tenant or a receiver controls is parsed here: URLs, Retry-After, the signature
/// headers, event ids, secrets and event bodies. Random and mutated inputs never crash and only
/// fail with the documented errors (typed throws make the error type a compile-time fact).
///
/// Each loop runs on the test thread pool, not on Swift's two cooperative threads, so that the
/// suites running beside it (timers, sockets) are not starved; violations come back as text.
@Suite struct WebhooksFuzzTests {
    static let rounds = 100_000

    /// Runs `body` on a thread of its own and records what it reports.
    static func fuzz(_ body: @escaping @Sendable () throws -> [String]) async throws {
        let violations = try await TestDatabase.threadPool.runIfActive(body)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
    }

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

    @Test func urlValidationNeverCrashes() async throws {
        try await Self.fuzz {
            var random = SeededRandom(seed: 0x0001)
            let alphabet = Array("httpsHTTPS:/[]@?#%.-_~0123456789abcdefxXlocalhost:\\ \t".utf8)
            let seeds = ["https://hooks.example.com:8443/in?x=1", "http://[::ffff:127.0.0.1]:80/", "http://127.0.0.1/", "https://user@host/", "http://0x7f.1/"]
            var violations: [String] = []
            var accepted = 0
            for round in 0..<Self.rounds {
                let input = round % 2 == 0
                    ? Self.text(&random, from: alphabet, maximumLength: 80)
                    : Self.mutate(seeds[round % seeds.count], &random, alphabet: alphabet)
                do {
                    let url = try WebhookURL(validating: input, policy: AddressPolicy())
                    accepted += 1
                    // Whatever passes is normalized to a URL that passes again, unchanged.
                    if (try? WebhookURL(validating: url.absoluteString, policy: AddressPolicy())) != url { violations.append("not stable: \(input)") }
                    if let literal = url.literalAddress, !AddressPolicy().allows(literal) { violations.append("refused address accepted: \(input)") }
                } catch {
                    // A WebhookURLError with a stable code; not crashing is what is tested.
                }
            }
            if accepted < 1000 { violations.append("only \(accepted) inputs were valid: the generator misses the accepting paths") }
            return violations
        }
    }

    @Test func retryAfterParsingNeverCrashes() async throws {
        try await Self.fuzz {
            var random = SeededRandom(seed: 0x0002)
            let alphabet = Array("0123456789 ,:-SunMonNovGMTgmt".utf8)
            let seeds = ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "120"]
            var violations: [String] = []
            for round in 0..<Self.rounds {
                let input = round % 2 == 0
                    ? Self.text(&random, from: alphabet, maximumLength: 40)
                    : Self.mutate(seeds[round % seeds.count], &random, alphabet: alphabet)
                if let value = RetryAfter(headerValue: input), value.delay(from: Date(timeIntervalSince1970: 1_777_636_800)) < .zero {
                    violations.append("negative delay: \(input)")
                }
            }
            return violations
        }
    }

    @Test func signatureVerificationNeverCrashesAndNeverAcceptsForgeries() async throws {
        try await Self.fuzz {
            var random = SeededRandom(seed: 0x0003)
            let secret = WebhookSecret.generate(using: &random)
            let verifier = WebhookVerifier(secrets: [secret])
            let now = Date(timeIntervalSince1970: 1_777_636_800)
            let body = Array(#"{"a":1}"#.utf8)
            let genuine = WebhookSigner.sign(id: "evt_01h455vb4pex5vsknk084sn02q", timestamp: now, body: body, secrets: [secret])
            let genuineMAC = Data(base64Encoded: String(genuine.signature.dropFirst(3)))
            let alphabet = Array("v1a2,+/=ABCxyz0123456789 .".utf8)
            var violations: [String] = []
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
                    let carriesGenuineMAC = signature.split(separator: " ").contains {
                        $0.hasPrefix("v1,") && Data(base64Encoded: String($0.dropFirst(3))) == genuineMAC
                    }
                    if id != genuine.id || timestamp != String(genuine.timestamp) || !carriesGenuineMAC {
                        violations.append("accepted: \(id) \(timestamp) \(signature)")
                    }
                } catch {
                    // A WebhookVerificationError.
                }
            }
            return violations
        }
    }

    @Test func eventIDsSecretsAndTimesNeverCrash() async throws {
        try await Self.fuzz {
            var random = SeededRandom(seed: 0x0004)
            let base32 = Array("0123456789abcdefghjkmnpqrstvwxyzABCZ_evt".utf8)
            let base64 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_whsec".utf8)
            let digits = Array("0123456789-:TZ.".utf8)
            var violations: [String] = []
            for round in 0..<Self.rounds {
                let id = Self.mutate("evt_01h455vb4pex5vsknk084sn02q", &random, alphabet: base32)
                if let parsed = EventID(id), parsed.description != id { violations.append("id: \(id)") }
                let secret = round % 2 == 0 ? Self.mutate("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &random, alphabet: base64)
                    : Self.text(&random, from: base64, maximumLength: 120)
                if let parsed = try? WebhookSecret(parsing: secret), !WebhookSecret.allowedByteCounts.contains(parsed.bytes.count) {
                    violations.append("secret: \(secret)")
                }
                let time = Self.mutate("2026-05-01T12:00:03.250Z", &random, alphabet: digits)
                if let parsed = EventTime.parse(time), EventTime.format(parsed) != time { violations.append("time: \(time)") }
            }
            return violations
        }
    }

    @Test func eventBodiesDecodeOrFailCleanly() async throws {
        let bodies = try CatalogueSamples.all.map { try $0.jsonBody() }
        try await Self.fuzz {
            var random = SeededRandom(seed: 0x0005)
            let alphabet = Array("{}[]\":,0123456789abcdefnulltrue .-_".utf8)
            var violations: [String] = []
            for round in 0..<Self.rounds {
                var bytes = bodies[round % bodies.count]
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = alphabet.randomElement(using: &random)!
                }
                // What decodes encodes again without error.
                if let event = try? WebhookEvent(jsonBody: bytes), (try? event.jsonBody()) == nil {
                    violations.append("re-encoding failed: \(String(decoding: bytes, as: UTF8.self))")
                }
            }
            return violations
        }
    }
}
