@testable import AdminAPI
import Foundation
import Testing
import Webhooks

/// What the webhook routes accept, checked against what docs/openapi.yaml promises: the URL
/// schema's patterns describe exactly the URLs `WebhookURL` takes (schemathesis sends both
/// kinds and expects each to be answered accordingly), and replay times are RFC 3339.
@Suite struct WebhookInputTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `pattern`s of the WebhookURL schema.
    static func urlPatterns() throws -> [NSRegularExpression] {
        let text = try String(contentsOf: repository.appending(path: "docs/openapi.yaml"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0 == "    WebhookURL:" })
        let patterns = lines[start...].prefix { $0 == "    WebhookURL:" || $0.hasPrefix("     ") }
            .compactMap { line -> String? in
                guard let range = line.range(of: "- pattern: '") else { return nil }
                return String(line[range.upperBound...].dropLast()).replacingOccurrences(of: "''", with: "'")
            }
        #expect(patterns.count == 2)
        return try patterns.map { try NSRegularExpression(pattern: $0) }
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

    @Test func theOpenAPIURLPatternDescribesExactlyTheURLsThatAreAccepted() throws {
        let patterns = try Self.urlPatterns()
        func matches(_ text: String) -> Bool {
            patterns.allSatisfy { $0.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil }
        }
        let seeds = [
            "https://hooks.example.com/in?token=abc&x=%20", "HTTP://Hooks.Example.COM./a/b;c=d/@e:f", "http://example.org:8080?a=b",
            "https://93.184.216.34:65535/hook", "https://[2606:2800:220:1:248:1893:25C8:1946]:8443/", "http://[::ffff:192.168.0.1]/",
            "http://[::1]/", "http://receiver/", "http://127.0.0.1:9000/x", "https://xn--bcher-kva.example/", "http://1.2.3.4./",
            "http://[1:2:3:4:5:6:7::]/", "http://[::1:2:3:4:5:6:7]/", "http://localhost/", "http://169.254.169.254/latest",
        ]
        for seed in seeds { #expect(matches(seed) == Self.wellFormed(seed), "\(seed)") }
        // Mutations around the seeds: every string the schema admits is accepted, every other refused.
        let alphabet = Array("aAzZ09.-:/?#@[]%_~!$&'()*+,;=\\ xX5fF")
        var random = SystemRandomNumberGenerator()
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
            let schema = matches(text)
            if schema { admitted += 1 }
            #expect(schema == Self.wellFormed(text), "\(text): the schema \(schema ? "admits" : "refuses") it, WebhookURL does not")
        }
        #expect(admitted > 1000, "the mutations also produce valid URLs")
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
