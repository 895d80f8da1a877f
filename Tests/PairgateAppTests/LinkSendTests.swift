import FleetHarness
import Foundation
import Logging
import PairgateTestSupport
import Testing
import WASim
import WAWire

#if canImport(Glibc)
import Glibc
#endif

/// The real `pairgate link --send` against the real simulator on 127.0.0.1: after pairing, each
/// message goes through the gateway's send path (usync, prekey bundles, encryption, the stanza) one
/// at a time; the command prints queued → sent (the server's ack) → delivered → read (the contact's
/// receipts) and exits 0; each contact counts its message once. A number without WhatsApp fails the
/// run with the reason, and bad input is refused before anything connects.
@Suite("pairgate link --send", .timeLimit(.minutes(4)))
struct LinkSendTests {
    private static let phone = "15557650002"
    private static let ann = "15557002001", bob = "15557002002"
    private static let logger = Logger(label: "pairgate.tests.link-send")

    @Test func linkSendPrintsEachStatusAsItArrivesAndEachContactCountsItsMessageOnce() async throws {
        var configuration = SimConfiguration()
        configuration.server.port = 0
        configuration.control.port = 0
        configuration.threads = 1
        configuration.phones = [Self.phone]
        configuration.readReceiptDelay = 0.2
        let simulator = try Simulator(configuration: configuration, logger: Self.logger)
        let endpoints = try await simulator.start()
        let credentials = TestEnvironment.scratchDirectory + "/link-send-\(UUID().uuidString.prefix(8)).json"
        defer {
            unlink(credentials)
            unlink(credentials + ".signal")
        }
        do {
            try await send(simulator: simulator, endpoints: endpoints, credentials: credentials)
        } catch {
            await simulator.shutdown()
            throw error
        }
        await simulator.shutdown()
    }

    private func send(simulator: Simulator, endpoints: Simulator.Endpoints, credentials: String) async throws {
        try simulator.contact(Self.ann, name: "Ann")
        try simulator.contact(Self.bob, name: "Bob")
        let upstream = ["--upstream", endpoints.webSocketURL, "--root-key", simulator.rootPublicKeyHex, "--credentials-file", credentials]
        let first = try PipedChild.start(["link"] + upstream + [
            "--method", "code", "--phone", Self.phone, "--json",
            "--send", "+\(Self.ann)", "hello Ann", "--send", "+\(Self.bob)", "hello Bob",
        ])
        defer { first.process.signal(SIGKILL) }
        try await eventually("the pairing code", limit: .seconds(60), pause: .milliseconds(20)) {
            Self.events(first, "pairing_code").first != nil || first.ended
        }
        let code = try #require(Self.events(first, "pairing_code").first?["pairing_code"] as? String, "\(first.transcript)")
        _ = try await simulator.enterCode(code, phone: Self.phone)
        #expect(try await first.process.wait() == 0, "\(first.transcript)")
        try await eventually("the end of the output", limit: .seconds(10), pause: .milliseconds(20)) { first.ended }

        let statuses = Self.events(first, "message_status")
        let ids = statuses.compactMap { $0["id"] as? String }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        #expect(ids.count == 2, "\(first.transcript)")
        for (id, to) in zip(ids, ["+\(Self.ann)", "+\(Self.bob)"]) {
            let mine = statuses.filter { $0["id"] as? String == id }
            #expect(mine.compactMap { $0["status"] as? String } == ["queued", "sent", "delivered", "read"], "\(first.transcript)")
            #expect(mine.allSatisfy { $0["to"] as? String == to })
            #expect(id.hasPrefix("3EB0") && id.count == 22)
        }
        // One at a time: Bob's message goes after Ann's ack.
        let order = statuses.map { "\($0["id"] as? String ?? "")/\($0["status"] as? String ?? "")" }
        let annSent = try #require(order.firstIndex(of: "\(ids[0])/sent"))
        let bobSent = try #require(order.firstIndex(of: "\(ids[1])/sent"))
        #expect(annSent < bobSent)

        let stats = simulator.statsSnapshot()
        #expect(stats.receivedByContact[Self.ann] == 1, "\(stats.receivedByContact)")
        #expect(stats.receivedByContact[Self.bob] == 1, "\(stats.receivedByContact)")
        #expect(stats.duplicatesByContact.values.reduce(0, +) == 0)
        #expect(stats.violationCount == 0, "\(stats.violations)")

        // Logged in with the files: the session with Ann goes on (no bundle needed), text output;
        // a number without WhatsApp fails the run with its reason, after Ann's message went out.
        let second = try PipedChild.start(["link"] + upstream + [
            "--send", "+\(Self.ann)", "again", "--send", "+15550000000", "anyone?", "--wait", "10",
        ])
        defer { second.process.signal(SIGKILL) }
        #expect(try await second.process.wait() == 1, "\(second.transcript)")
        try await eventually("the end of the output", limit: .seconds(10), pause: .milliseconds(20)) { second.ended }
        let lines = second.lines.filter { $0.hasPrefix("message ") }
        let again = try #require(lines.first?.split(separator: " ").dropFirst().first.map(String.init))
        #expect(lines.filter { $0.hasPrefix("message \(again) ") } == [
            "message \(again) to +\(Self.ann): queued", "message \(again) to +\(Self.ann): sent",
            "message \(again) to +\(Self.ann): delivered", "message \(again) to +\(Self.ann): read",
        ], "\(second.transcript)")
        #expect(lines.contains { $0.hasSuffix(" to +15550000000: failed (no_devices)") }, "\(second.transcript)")
        #expect(second.lines.contains { $0.contains("1 of 2 messages failed") && $0.contains("no_devices") }, "\(second.transcript)")
        let after = simulator.statsSnapshot()
        #expect(after.receivedByContact[Self.ann] == 2)
        #expect(after.duplicatesByContact.values.reduce(0, +) == 0)
        #expect(after.violationCount == 0, "\(after.violations)")
    }

    @Test(arguments: [
        (["--send", "15551234567", "hi"], "the recipient must be an international number"),
        (["--send", "+15551234567", ""], "the text must be 1 to 65536 characters"),
        (["--send", "+15551234567", "<65,537 characters>"], "the text must be 1 to 65536 characters"),
        (["--send", "+15551234567"], "--send takes a NUMBER and a TEXT"),
        (["--send", "+15551234567", "hi", "--wait", "3601"], "--wait must be 0 to 3600 seconds"),
    ])
    func badInputIsRefusedBeforeAnythingConnects(arguments: [String], message: String) async throws {
        // One code point over WhatsApp's limit (named, not spelled out, in the test's arguments).
        let arguments = arguments.map { $0 == "<65,537 characters>" ? String(repeating: "a", count: 65_537) : $0 }
        // Nothing listens there: a run that got past validation would report a connection failure.
        let child = try PipedChild.start(["link", "--upstream", "ws://127.0.0.1:9/ws/chat"] + arguments)
        defer { child.process.signal(SIGKILL) }
        let status = try await child.process.wait()
        try await eventually("the end of the output", limit: .seconds(10), pause: .milliseconds(20)) { child.ended }
        #expect(status != 0)
        #expect(child.lines.contains { $0.contains(message) }, "\(child.transcript)")
        #expect(!child.lines.contains { $0.hasPrefix("connecting") }, "\(child.transcript)")
    }

    /// The JSON objects among the lines with `event` = `name`.
    private static func events(_ child: PipedChild, _ name: String) -> [[String: any Sendable]] {
        child.lines.compactMap { line -> [String: any Sendable]? in
            guard line.hasPrefix("{"), let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: any Sendable],
                  object["event"] as? String == name else { return nil }
            return object
        }
    }
}
