@testable import AdminAPI
import Foundation
import NIOPosix
import PairgateTestSupport
import Testing
import WAWire
import Webhooks

/// What the webhook routes accept, checked against what docs/openapi.yaml promises: the URL
/// schema's patterns describe exactly the URLs `WebhookURL` takes (schemathesis sends both
/// kinds and expects each to be answered accordingly), and replay times are RFC 3339. The loops
/// run on the test thread pool, not on Swift's two cooperative threads.
@Suite struct WebhookInputTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `pattern`s of the WebhookURL schema.
    static func urlPatterns() throws -> [String] {
        let text = try String(contentsOf: repository.appending(path: "docs/openapi.yaml"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0 == "    WebhookURL:" })
        let patterns = lines[start...].prefix { $0 == "    WebhookURL:" || $0.hasPrefix("     ") }
            .compactMap { line -> String? in
                guard let range = line.range(of: "- pattern: '") else { return nil }
                return String(line[range.upperBound...].dropLast()).replacingOccurrences(of: "''", with: "'")
            }
        #expect(patterns.count == 2)
        return patterns
    }

    /// Whether `text` matches every one of `patterns`.
    static func matches(_ text: String, _ patterns: [NSRegularExpression]) -> Bool {
        patterns.allSatisfy { $0.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil }
    }

    /// Accepted at registration, or refused only for the address (403, which the schema cannot say).
    static func wellFormed(_ text: String) -> Bool {
        do {
            _ = try WebhookURL(validating: text, policy: AddressPolicy(allowPrivate: true))
            return true
        } catch {
            return error.code == .privateAddress
        }
    }

    @Test func theOpenAPIURLPatternDescribesExactlyTheURLsThatAreAccepted() async throws {
        let sources = try Self.urlPatterns()
        let seeds = [
            "https://hooks.example.com/in?token=abc&x=%20", "HTTP://Hooks.Example.COM./a/b;c=d/@e:f", "http://example.org:8080?a=b",
            "https://93.184.216.34:65535/hook", "https://[2606:2800:220:1:248:1893:25C8:1946]:8443/", "http://[::ffff:192.168.0.1]/",
            "http://[::1]/", "http://receiver/", "http://127.0.0.1:9000/x", "https://xn--bcher-kva.example/", "http://1.2.3.4./",
            "http://[1:2:3:4:5:6:7::]/", "http://[::1:2:3:4:5:6:7]/", "http://localhost/", "http://169.254.169.254/latest",
        ]
        // Mutations around the seeds: every string the schema admits is accepted, every other refused.
        let (disagreements, admitted) = try await TestDatabase.threadPool.runIfActive { () -> ([String], Int) in
            let patterns = try sources.map { try NSRegularExpression(pattern: $0) }
            let alphabet = Array("aAzZ09.-:/?#@[]%_~!$&'()*+,;=\\ xX5fF")
            var random = SeededRandom(seed: 0x5EED)
            var disagreements = seeds.filter { Self.matches($0, patterns) != Self.wellFormed($0) }
            var admitted = 0
            for _ in 0..<20_000 {
                var characters = Array(seeds.randomElement(using: &random)!)
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    let position = Int.random(in: 0...characters.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: characters.insert(alphabet.randomElement(using: &random)!, at: position)
                    case 1 where position < characters.count: characters.remove(at: position)
                    default: if position < characters.count { characters[position] = alphabet.randomElement(using: &random)! }
                    }
                }
                let text = String(characters)
                let schema = Self.matches(text, patterns)
                if schema { admitted += 1 }
                if schema != Self.wellFormed(text) { disagreements.append("\(text): the schema \(schema ? "admits" : "refuses") it, WebhookURL does not") }
            }
            return (disagreements, admitted)
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
        #expect(admitted > 1000, "the mutations also produce valid URLs")
    }

    /// Replay times come from tenants: random and mutated input never crashes the parser, and
    /// whatever it reads is a time it would write back the same way.
    @Test func theReplayTimeParserNeverCrashes() async throws {
        let violations = try await TestDatabase.threadPool.runIfActive { () -> [String] in
            var random = SeededRandom(seed: 0x3339)
            let alphabet = Array("0123456789-:.TtZz+ ".utf8)
            let seeds = ["2026-05-01T12:00:00Z", "1998-12-31T15:59:60.123-08:00", "2024-02-29t00:00:00.5+14:00", "0000-01-01T00:00:00Z"]
            var violations: [String] = []
            var parsed = 0
            for round in 0..<100_000 {
                var bytes = Array(seeds[round % seeds.count].utf8)
                if round % 3 == 0 {
                    bytes = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                        Int.random(in: 0..<8, using: &random) == 0 ? UInt8.random(in: 0...255, using: &random) : alphabet.randomElement(using: &random)!
                    }
                } else {
                    for _ in 0..<Int.random(in: 1...3, using: &random) {
                        let index = Int.random(in: 0..<max(1, bytes.count), using: &random)
                        switch Int.random(in: 0..<3, using: &random) {
                        case 0 where !bytes.isEmpty: bytes.remove(at: index)
                        case 1: bytes.insert(alphabet.randomElement(using: &random)!, at: min(index, bytes.count))
                        default: if !bytes.isEmpty { bytes[index] = alphabet.randomElement(using: &random)! }
                        }
                    }
                }
                let text = String(decoding: bytes, as: UTF8.self)
                guard let date = RFC3339.parse(text) else { continue }
                parsed += 1
                // Foundation's formatter switches to the Julian calendar before 1582-10-15 where RFC 3339
                // (and the parser) stay Gregorian, so earlier dates have no reference to compare with.
                guard date.timeIntervalSince1970 >= -12_219_292_800 else { continue }
                let written = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                // The formatter truncates to the millisecond; the binary fraction may sit just below it.
                if let again = RFC3339.parse(written), abs(again.timeIntervalSince(date)) < 0.0015 { continue }
                violations.append("\(text) → \(written) does not read back")
            }
            if parsed < 1000 { violations.append("only \(parsed) inputs parsed: the mutations are too rough to test the accepting path") }
            return violations
        }
        #expect(violations.isEmpty, "\(violations.prefix(5))")
    }

    @Test func replayTimesAreRFC3339() {
        let valid: [(String, TimeInterval)] = [
            ("2026-05-01T12:00:00Z", 1_777_636_800), ("2026-05-01t14:00:00.5+02:00", 1_777_636_800.5), ("2026-05-01T11:00:00-01:00", 1_777_636_800),
            ("1998-12-31T23:59:60Z", 915_148_800), ("1998-12-31T15:59:60.123-08:00", 915_148_800.123), ("2024-02-29T00:00:00z", 1_709_164_800),
            ("2026-05-01T12:00:00." + String(repeating: "0", count: 100) + "1Z", 1_777_636_800),
        ]
        for (text, seconds) in valid {
            let date = RFC3339.parse(text)
            #expect(date.map { abs($0.timeIntervalSince1970 - seconds) < 0.0005 } == true, "\(text)")
        }
        for text in [
            "2026-05-01", "2026-05-01 12:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-05-01T24:00:00Z", "2026-05-01T12:00:00",
            "2026-05-01T12:00:00+24:00", "2026-05-01T12:00:00.Z", "1998-12-31T22:59:60Z", "2026-13-01T00:00:00Z", "2026-05-01T12:00:00Z ",
            "2026-5-01T12:00:00Z", "２026-05-01T12:00:00Z", "2026-05-01T12:00:00.", "2026-05-01T12:00:00+0200",
        ] {
            #expect(RFC3339.parse(text) == nil, "\(text)")
        }
    }
}
