import AdminAPI
import AsyncHTTPClient
import DevicePool
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PairgateTestSupport
import PostgresStore
import Testing
import WAClient
import WASim
import WAWire

#if canImport(Glibc)
import Glibc
#endif

/// The API over the real client and the simulated WhatsApp, end to end over loopback.
@Suite("Pairing through the API against the simulator", .requiresDatabase)
struct SimulatorTests {

    /// The simulated phone scans a QR (the simulator's control API); returns the HTTP status.
    private func scan(_ qr: String, control: String) async throws -> Int {
        var request = HTTPClientRequest(url: control + "/phone/scan")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(["qr": qr])))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return Int(response.status.code)
    }

    @Test func aQRPairingThroughTheAPIEndsPairedAndTheDeviceComesOnline() async throws {
        try await APIHarness.withSimulator { h, _, endpoints in
            let pair = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"qr","name":"till"}"#)
            #expect(pair.status == 201)
            let qr = try #require(pair.json["qr"] as? String)
            let deviceID = try #require((pair.json["device_id"] as? String).flatMap(UUID.init(uuidString:)))
            let stream = try await h.events(try #require(pair.json["events_url"] as? String), host: h.acme.host, token: h.acme.token)
            #expect(try await stream.next()?.name == "state")
            #expect(try await stream.next()?.json["qr"] as? String == qr)

            #expect(try await scan(qr, control: endpoints.controlURL) == 200)
            let rest = try await stream.rest()
            #expect(rest.map(\.name) == ["paired"])
            #expect(rest.first?.json["number"] as? String == "•••1234")
            try await eventually("online") { try await h.store.device(deviceID)?.state == .online }

            let status = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token)
            let device = try #require((status.json["devices"] as? [[String: any Sendable]])?.first)
            #expect(device["state"] as? String == "online")
            #expect(device["number"] as? String == "•••1234")
            #expect(status.json["active_pairing"] == nil)

            let logout = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token,
                                             json: #"{"device_id":"\#(deviceID.uuidString)","mode":"logout"}"#)
            #expect((logout.json["results"] as? [[String: any Sendable]])?.first?["state"] as? String == "logged_out")
        }
    }

    /// Headless Chromium opens the page link, zbarimg reads the QR off a screenshot, the simulated
    /// phone scans it, and the page turns to paired — no reload. Needs chromium, chromium-driver,
    /// zbarimg and selenium (ops/test.sh installs them); skipped elsewhere unless tools are required.
    @Test(.enabled("needs chromium, chromedriver, zbarimg and selenium") { if TestEnvironment.requiresTools { true } else { await BrowserTools.available } })
    func theBrowserPageTurnsToPairedWhenThePhoneScansItsQR() async throws {
        try #require(await BrowserTools.available, "install chromium, chromium-driver, zbar-tools and selenium (pip)")
        try await APIHarness.withSimulator { h, _, endpoints in
            let authority = "acme.example:\(h.node.port)"
            let pair = try await h.request(.POST, "/pair", host: authority, token: h.acme.token, json: #"{"method":"qr"}"#)
            let page = try #require(pair.json["page_url"] as? String)
            #expect(page.hasPrefix("http://\(authority)/?pairing="))
            let deviceID = try #require((pair.json["device_id"] as? String).flatMap(UUID.init(uuidString:)))

            let screenshot = TestEnvironment.scratchDirectory + "/pairing-page-\(UUID().uuidString.prefix(8)).png"
            let (status, output) = try await BrowserTools.runPython([
                BrowserTools.script, "--page", page, "--map", "acme.example", "--control", endpoints.controlURL, "--screenshot", screenshot,
            ])
            #expect(status == 0, "the browser run failed: \(output)")
            #expect(output.contains(#""state": "paired""#), "\(output)")
            try await eventually("online") { try await h.store.device(deviceID)?.state == .online }
        }
    }
}

/// The headless browser side: tool detection and running the selenium script.
enum BrowserTools {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "Browser/pairing_page.py").path

    static var available: Bool {
        get async {
            guard ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/zbarimg"].allSatisfy(FileManager.default.isExecutableFile(atPath:))
            else { return false }
            return await PythonModules.available("selenium")
        }
    }

    /// Runs python3 on the test thread pool (never blocking Swift's cooperative threads).
    static func runPython(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await TestDatabase.threadPool.runIfActive { try runSync(["/usr/bin/env", "python3"] + arguments) }
    }

    private static func runSync(_ argv: [String]) throws -> (status: Int32, output: String) {
        let result = try ChildProcess.runBlocking(argv[0], Array(argv.dropFirst()))
        return (result.status, result.outputText + result.errorText)
    }
}

