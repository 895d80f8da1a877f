import Foundation
import PairgateTestSupport
import Testing
import WAWire
@testable import Webhooks

/// The catalogue's wire form: deterministic, stable, and exactly what docs/webhooks.md shows.
@Suite struct EventCatalogueTests {
    @Test func everyTypeHasASample() {
        #expect(Set(CatalogueSamples.all.map(\.type)) == Set(EventType.allCases))
    }

    @Test(arguments: CatalogueSamples.all)
    func eventsRoundTripToTheSameBytes(event: WebhookEvent) throws {
        let body = try event.jsonBody()
        let decoded = try WebhookEvent(jsonBody: body)
        #expect(decoded == event)
        #expect(try decoded.jsonBody() == body)
        #expect(try event.jsonBody() == body)
    }

    @Test func bodiesAreCompactSortedWithExplicitNullsAndLowercaseIDs() throws {
        let event = try #require(CatalogueSamples.all.first { $0.type == .deviceState })
        let text = String(decoding: try event.jsonBody(), as: UTF8.self)
        #expect(text.hasPrefix(#"{"data":{"decision":"backoff","from":"online","next_attempt_at":"#))
        #expect(text.contains(#""device_id":"6f1c2e4a-8b3d-4c5e-9f70-a1b2c3d4e5f6""#))
        #expect(text.hasSuffix(#""timestamp":"2026-05-01T12:00:03.250Z","type":"device.state"}"#))
        let pairing = try #require(CatalogueSamples.all.first { $0.type == .pairingEnded })
        #expect(String(decoding: try pairing.jsonBody(), as: UTF8.self).contains(#""detail":null"#))
        let endpoint = try #require(CatalogueSamples.all.first { $0.type == .endpointDisabled })
        let endpointText = String(decoding: try endpoint.jsonBody(), as: UTF8.self)
        #expect(endpointText.contains(#""device_id":null"#))
        #expect(endpointText.contains(#""url":"https://hooks.example.com/pairgate""#))
    }

    @Test func theDocsShowEachTypeExactlyAsEncoded() throws {
        let docs = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../docs/webhooks.md"), encoding: .utf8)
        for event in CatalogueSamples.all {
            let heading = "### `\(event.type.rawValue)`"
            let section = try #require(docs.range(of: heading), "docs/webhooks.md has no section \(heading)")
            let example = try #require(DocsSnippet.block(language: "json", in: String(docs[section.upperBound...])))
            #expect(Self.compact(example) == String(decoding: try event.jsonBody(), as: UTF8.self), "\(heading)")
            #expect(try WebhookEvent(jsonBody: Array(example.utf8)) == event)
        }
    }

    @Test func timesAreUTCWithMilliseconds() throws {
        let samples: [(Double, String)] = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400.5, "2000-02-29T00:00:00.500Z"),
            (1_777_636_803.25, "2026-05-01T12:00:03.250Z"),
            (1_777_636_803.2509, "2026-05-01T12:00:03.250Z"),
            (253_402_300_799.999, "9999-12-31T23:59:59.999Z"),
        ]
        for (seconds, text) in samples {
            #expect(EventTime.format(Date(timeIntervalSince1970: seconds)) == text)
            let parsed = try #require(EventTime.parse(text))
            #expect(EventTime.format(parsed) == text)
        }
        for bad in ["2026-02-29T00:00:00.000Z", "2026-05-01T24:00:00.000Z", "2026-05-01T12:00:00Z", "2026-05-01 12:00:00.000Z",
                    "1969-12-31T23:59:59.999Z", "2026-05-01T12:00:00.000+00:00", "2026-13-01T00:00:00.000Z"] {
            #expect(EventTime.parse(bad) == nil, "\(bad)")
        }
        // A millisecond that binary floating point cannot hold exactly still comes back as itself.
        for milliseconds in stride(from: Int64(1_777_636_800_000), to: 1_777_636_801_000, by: 1) {
            let date = EventTime.truncated(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            #expect(EventTime.milliseconds(date) == milliseconds)
        }
    }

    /// JSON without the whitespace between tokens (strings kept as they are).
    static func compact(_ json: String) -> String {
        var result = "", inString = false, escaped = false
        for character in json {
            if inString {
                result.append(character)
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
            } else if character == "\"" {
                inString = true
                result.append(character)
            } else if !character.isWhitespace {
                result.append(character)
            }
        }
        return result
    }
}

/// One event of each type with fixed ids and times: the examples of docs/webhooks.md.
enum CatalogueSamples {
    static let tenant = UUID(uuidString: "0d6f4b52-3a1e-4c8f-9b7a-2e5d1c0f9a84")!
    static let device = UUID(uuidString: "6f1c2e4a-8b3d-4c5e-9f70-a1b2c3d4e5f6")!
    static let pairing = UUID(uuidString: "b7e9a3c1-5d2f-4e8a-b6c4-d9f0e1a2b3c4")!
    static let endpoint = UUID(uuidString: "3c8e1f5a-7b9d-4a2e-8c6f-0d4b2a9e7f13")!
    static let base = 1_777_636_800.0  // 2026-05-01T12:00:00Z

    static func time(_ offset: Double) -> Date { Date(timeIntervalSince1970: base + offset) }

    static func event(_ data: EventData, at offset: Double, device: UUID? = CatalogueSamples.device, seed: UInt64) -> WebhookEvent {
        var random = SeededRandom(seed: seed)
        return WebhookEvent(data, tenantID: tenant, deviceID: device, now: time(offset), random: &random)
    }

    static let all: [WebhookEvent] = [
        event(.pairingUpdated(PairingUpdated(pairingID: pairing, method: .qr, sequence: 1, expiresAt: time(60.4), pairingExpiresAt: time(180.4))),
              at: 0.4, seed: 1),
        event(.pairingEnded(PairingEnded(pairingID: pairing, method: .qr, outcome: .paired, detail: nil)), at: 1.75, seed: 2),
        event(.deviceState(DeviceStateChanged(from: "online", to: "backoff", stateReason: "network:1", reason: "network",
                                              decision: "backoff", nextAttemptAt: time(4.9))), at: 3.25, seed: 3),
        event(.deviceLoggedOut(DeviceLoggedOut(reason: "logged_out", detail: "stream:error device_removed", number: "+1555•••4567")),
              at: 10, seed: 4),
        event(.messageReceived(MessageReceived(messageID: "5b0e8f4a-3c2d-4e1f-9a8b-7c6d5e4f3a2b", waID: "3EB0C767D26A1B2C3D4E", chat: "15551234567@s.whatsapp.net",
                                               sender: "15551234567@s.whatsapp.net", fromMe: false, messageType: "text", text: "Hello 👋",
                                               sentAt: time(20), receivedAt: time(20.318))), at: 20.318, seed: 5),
        event(.messageStatus(MessageStatusChanged(messageID: "msg_01jtq9y8h0a1b2c3d4e5f6g7h8", waID: "3EB0A1B2C3D4E5F6A7B8", chat: "15551234567@s.whatsapp.net",
                                                  status: .delivered, failureReason: nil, statusAt: time(31.5))), at: 31.5, seed: 6),
        event(.endpointDisabled(EndpointDisabled(endpointID: endpoint, url: "https://hooks.example.com/pairgate", reason: .failing,
                                                 failingSince: time(-86_400), lastError: "http_503")), at: 40, device: nil, seed: 7),
    ]
}
