import AdminAPI
import DevicePool
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresStore
import Synchronization
import Testing
import WAClient

/// Serialized, like the lifecycle suite: every test runs gateways on a database of its own.
@Suite("The admin fleet page", .requiresDatabase, .serialized)
struct FleetPageTests {
    @Test func aPageLinkTakesTheAdminTokenOpensOnlyThePageAndExpires() async throws {
        try await APIHarness.run { h in
            #expect(try await h.request(.POST, "/admin/page/links", host: "ops.example", json: "{}").status == 401)
            #expect(try await h.request(.POST, "/admin/page/links", host: h.acme.host, token: h.acme.token, json: "{}").status == 401)
            for lifetime in [10, 100_000] {
                #expect(try await h.admin(.POST, "/admin/page/links", json: #"{"valid_for_seconds":\#(lifetime)}"#).status == 422)
            }
            let issued = try await h.admin(.POST, "/admin/page/links", json: #"{"valid_for_seconds":600}"#)
            #expect(issued.status == 201)
            let url = try #require(issued.json["page_url"] as? String)
            // Absolute, on the host the request named.
            #expect(url.hasPrefix("http://anything.example/admin/page?expires="))
            let path = String(url.dropFirst("http://anything.example".count))

            let page = try await h.request(.GET, path, host: "ops.example")
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
            #expect(page.body.contains(#"<main id="fleet""#))
            let events = path.replacingOccurrences(of: "/admin/page?", with: "/admin/page/events?")
            #expect(page.body.contains(events.replacingOccurrences(of: "/admin/page/events?", with: "")))
            // The link opens nothing else.
            #expect(try await h.request(.GET, path.replacingOccurrences(of: "/admin/page?", with: "/admin/fleet?"), host: "ops.example").status == 401)

            let forged = path.replacingOccurrences(of: "sig=", with: "sig=A")
            #expect(try await h.request(.GET, forged, host: "ops.example").status == 403)
            #expect(try await h.request(.GET, "/admin/page", host: "ops.example").status == 401)
            let forgedStream = try await h.request(.GET, forged.replacingOccurrences(of: "/admin/page?", with: "/admin/page/events?"), host: "ops.example")
            #expect(forgedStream.status == 401)
            #expect(forgedStream.json["code"] as? String == "link_invalid")

            h.clock.advance(by: .seconds(601))
            let expired = try await h.request(.GET, path, host: "ops.example")
            #expect(expired.status == 410)
            #expect(!expired.body.contains("data-cell"))
            let expiredStream = try await h.request(.GET, events, host: "ops.example")
            #expect(expiredStream.status == 401)
            #expect(expiredStream.json["code"] as? String == "link_expired")
        }
    }

    @Test func thePageShowsInstancesDevicesPerTenantDisconnectsAndPairings() async throws {
        try await APIHarness.run(instances: ["a", "b"]) { h in
            let online = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            let stopped = try await h.onlineDevice(h.acme, jid: "15557654321:2@s.whatsapp.net")
            #expect(try await h.request(.POST, "/devices/\(stopped.lowercase)/stop", host: h.acme.host, token: h.acme.token).status == 200)
            _ = try await h.startQRPairing(h.beta, node: 1)
            _ = online

            let page = try await h.request(.GET, try await pagePath(h), host: "ops.example", node: 1)
            #expect(page.status == 200)
            let acme = h.acme.id.lowercase
            let beta = h.beta.id.lowercase
            let expected: [String: String] = [
                "tenant:\(acme):online": "1", "tenant:\(acme):paired": "1", "tenant:\(acme):stopped": "1", "tenant:\(acme):total": "2",
                "tenant:\(beta):pairing": "1", "tenant:\(beta):total": "1",
                "total:online": "1", "total:total": "3",
                "instances:count": "2", "instance:a:devices": "1", "instance:b:devices": "1",
                // Each device's 515 after pairing, and the stop.
                "disconnects:restart_required": "2", "disconnects:shutdown": "1", "disconnects:total": "3",
                "pairings:count": "1",
            ]
            for (name, value) in expected {
                #expect(Self.cell(name, in: page.body) == value, "\(name)")
            }
            #expect(page.body.contains("Acme") && page.body.contains("Beta"))
            #expect(page.body.contains("(serving this page)"))
        }
    }

    @Test func theEventStreamSendsTheSectionsAgainWhenADeviceChangesState() async throws {
        try await APIHarness.run { h in
            let id = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            let events = try await pagePath(h).replacingOccurrences(of: "/admin/page?", with: "/admin/page/events?")
            let stream = try await h.events(events, host: "ops.example")
            #expect(stream.status == 200)
            #expect(stream.contentType == "text/event-stream")
            let first = try #require(try await stream.next())
            #expect(first.name == "snapshot")
            let online = "tenant:\(h.acme.id.lowercase):online"
            #expect(Self.cell(online, in: first.json["html"] as? String ?? "") == "1")

            let received = Received()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while let event = try await stream.next() {
                        received.names.withLock { $0.append(event.name) }
                        if event.name == "snapshot", let html = event.json["html"] as? String {
                            received.snapshots.withLock { $0.append(html) }
                        }
                    }
                }
                #expect(try await h.request(.POST, "/devices/\(id.lowercase)/stop", host: h.acme.host, token: h.acme.token).status == 200)
                // The stream reads the fleet each refresh (1 s on the harness's clock).
                try await eventually("a snapshot showing the stop", pause: .milliseconds(20)) {
                    h.clock.advance(by: .seconds(1))
                    return received.snapshots.withLock { $0.contains { Self.cell(online, in: $0) == "0" } }
                }
                // The link's hour runs out: the stream says so and ends.
                h.clock.advance(by: .seconds(3600))
                try await group.waitForAll()
            }
            #expect(received.names.withLock { $0.last } == "expired")
            // Only changes are sent, however many refreshes came in between.
            let sent = [first.json["html"] as? String ?? ""] + received.snapshots.withLock { $0 }
            #expect(zip(sent, sent.dropFirst()).allSatisfy { $0 != $1 })
            let last = try #require(received.snapshots.withLock { $0.last })
            #expect(Self.cell("tenant:\(h.acme.id.lowercase):stopped", in: last) == "1")
            #expect(Self.cell("tenant:\(h.acme.id.lowercase):paired", in: last) == "1")
        }
    }

    /// Headless Chromium opens the page link, reads the server-rendered numbers, then sees them
    /// change when a device is stopped — over the event stream, without a reload. Needs
    /// chromium, chromium-driver and selenium (ops/test.sh installs them).
    @Test(.enabled("needs chromium, chromedriver and selenium") { if TestEnvironment.requiresTools { true } else { await BrowserTools.available } })
    func theFleetPageInTheBrowserShowsTheNumbersAndFollowsAStop() async throws {
        try #require(await BrowserTools.available, "install chromium, chromium-driver, zbar-tools and selenium (pip)")
        try await APIHarness.run(configure: { $0.adminPageRefresh = .milliseconds(200) }, realClock: true) { h in
            let id = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            _ = try await h.onlineDevice(h.acme, jid: "15557654321:2@s.whatsapp.net")
            let page = "http://127.0.0.1:\(h.node.port)" + (try await pagePath(h))
            let (status, output) = try await BrowserTools.runPython([
                Self.browserScript, "--page", page, "--tenant", h.acme.id.lowercase,
                "--stop", "http://127.0.0.1:\(h.node.port)/devices/\(id.lowercase)/stop",
                "--host", h.acme.host, "--token", h.acme.token,
            ])
            #expect(status == 0, "the browser run failed: \(output)")
            let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("{") })
            let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let before = try #require(result["before"] as? [String: Any])
            let after = try #require(result["after"] as? [String: Any])
            #expect(before["online"] as? String == "2")
            #expect(before["stopped"] as? String == "0")
            #expect(before["instances"] as? String == "1")
            #expect(after["online"] as? String == "1")
            #expect(after["paired"] as? String == "1")
            #expect(after["stopped"] as? String == "1")
            #expect(result["reloaded"] as? Bool == false)
            #expect(try await h.store.device(id)?.desiredState == .stopped)
        }
    }

    static let browserScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "Browser/fleet_page.py").path

    /// A fresh page link's path and query.
    private func pagePath(_ h: APIHarness) async throws -> String {
        let issued = try await h.admin(.POST, "/admin/page/links", json: "{}")
        let url = try #require(issued.json["page_url"] as? String)
        let range = try #require(url.range(of: "/admin/page?"))
        return String(url[range.lowerBound...])
    }

    /// The text of the cell `data-cell="name"` in rendered HTML.
    static func cell(_ name: String, in html: String) -> String? {
        guard let start = html.range(of: "data-cell=\"\(name)\"") else { return nil }
        guard let open = html[start.upperBound...].firstIndex(of: ">") else { return nil }
        let rest = html[html.index(after: open)...]
        guard let close = rest.firstIndex(of: "<") else { return nil }
        return String(rest[..<close])
    }
}

/// What the test's reader took off an event stream.
private final class Received: Sendable {
    let names = Mutex<[String]>([])
    let snapshots = Mutex<[String]>([])
}
