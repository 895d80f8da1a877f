import FleetHarness
import Foundation
import Logging
import PairgateTestSupport
import Testing
import WASim

#if canImport(Glibc)
import Glibc
#endif

/// The real `pairgate link` with its standard output into a pipe, as `pairgate link | tee log`
/// runs it: the pairing code must arrive while the command still waits for it to be typed (it
/// used to sit in a buffer until the command ended), and every duration reads as people write it.
@Suite("pairgate link through a pipe", .timeLimit(.minutes(3)))
struct LinkCommandTests {
    private static let phone = "15557654321"
    private static let logger = Logger(label: "pairgate.tests.link")

    private func withSimulator(_ body: (Simulator, Simulator.Endpoints) async throws -> Void) async throws {
        var configuration = SimConfiguration()
        configuration.server.port = 0
        configuration.control.port = 0
        configuration.threads = 1
        configuration.phones = [Self.phone]
        let simulator = try Simulator(configuration: configuration, logger: Self.logger)
        let endpoints = try await simulator.start()
        do {
            try await body(simulator, endpoints)
        } catch {
            await simulator.shutdown()
            throw error
        }
        await simulator.shutdown()
    }

    @Test func thePairingCodeReachesThePipeWhileTheCommandWaitsForIt() async throws {
        try await withSimulator { simulator, endpoints in
            let credentials = TestEnvironment.scratchDirectory + "/link-\(UUID().uuidString.prefix(8)).json"
            defer { unlink(credentials) }
            let child = try PipedChild.start([
                "link", "--upstream", endpoints.webSocketURL, "--root-key", simulator.rootPublicKeyHex,
                "--method", "code", "--phone", Self.phone, "--credentials-file", credentials,
            ])
            defer { child.process.signal(SIGKILL) }

            try await eventually("the pairing code on the pipe", limit: .seconds(60), pause: .milliseconds(20)) {
                child.lines.contains { $0.hasPrefix("pairing code (valid for ") } || child.ended
            }
            #expect(!child.ended, "the command ended before anyone typed its code:\n\(child.transcript)")
            let line = try #require(child.lines.first { $0.hasPrefix("pairing code (valid for ") }, "\(child.transcript)")
            // "pairing code (valid for 2 min 40 s): ABCD-EFGH — on the phone: …"
            let validFor = try #require(line.split(separator: "(valid for ").last?.split(separator: ")").first.map(String.init))
            #expect(Self.isHuman(validFor), "\(line)")
            let code = try #require(line.split(separator: "): ").last?.split(separator: " ").first.map(String.init))

            _ = try await simulator.enterCode(code, phone: Self.phone)
            #expect(try await child.process.wait() == 0, "\(child.transcript)")
            try await eventually("the end of the output", limit: .seconds(10), pause: .milliseconds(20)) { child.ended }

            let lines = child.lines
            #expect(lines.contains { $0.hasPrefix("pair-success for \(Self.phone):") }, "\(child.transcript)")
            #expect(lines.contains { $0.hasPrefix("disconnected: stream/restart_required 515") }, "\(child.transcript)")
            let online = try #require(lines.first { $0.hasPrefix("online as \(Self.phone):") }, "\(child.transcript)")
            let offset = try #require(online.split(separator: "server clock offset ").last.map(String.init))
            #expect(Self.isHuman(offset), "\(online)")
            #expect(FileManager.default.fileExists(atPath: credentials))
        }
    }

    @Test func jsonPrintsOneObjectPerEventAsItHappens() async throws {
        try await withSimulator { simulator, endpoints in
            let child = try PipedChild.start([
                "link", "--upstream", endpoints.webSocketURL, "--root-key", simulator.rootPublicKeyHex,
                "--method", "code", "--phone", Self.phone, "--json",
            ])
            defer { child.process.signal(SIGKILL) }

            try await eventually("the pairing_code event on the pipe", limit: .seconds(60), pause: .milliseconds(20)) {
                Self.events(child).contains { $0["event"] as? String == "pairing_code" } || child.ended
            }
            #expect(!child.ended, "the command ended before anyone typed its code:\n\(child.transcript)")
            let announced = try #require(Self.events(child).first { $0["event"] as? String == "pairing_code" }, "\(child.transcript)")
            let code = try #require(announced["pairing_code"] as? String)
            #expect((announced["valid_for_ms"] as? Int).map { $0 > 0 } == true, "\(announced)")

            _ = try await simulator.enterCode(code, phone: Self.phone)
            #expect(try await child.process.wait() == 0, "\(child.transcript)")
            try await eventually("the end of the output", limit: .seconds(10), pause: .milliseconds(20)) { child.ended }

            let events = Self.events(child)
            let names = events.compactMap { $0["event"] as? String }
            #expect(Set(names).isSubset(of: Self.documentedEvents), "\(names)")
            // pair, the server's 515 restart, then log in.
            let order = names.filter { ["connecting", "pairing_code", "pair_success", "paired", "disconnected", "online"].contains($0) }
            #expect(order == ["connecting", "pairing_code", "pair_success", "paired", "disconnected", "connecting", "online"], "\(names)")
            #expect(events.first?["intent"] as? String == "pair")
            #expect(events.last { $0["event"] as? String == "connecting" }?["intent"] as? String == "login")
            let restart = try #require(events.first { $0["event"] as? String == "disconnected" })
            #expect(restart["stage"] as? String == "stream")
            #expect(restart["category"] as? String == "restart_required")
            #expect(restart["code"] as? Int == 515)
            let online = try #require(events.last)
            #expect(online["event"] as? String == "online")
            #expect((online["jid"] as? String)?.hasPrefix(Self.phone + ":") == true, "\(online)")
            #expect(online["clock_offset_ms"] is Int, "\(online)")
        }
    }

    @Test func jsonEndsWithTheReasonWhenTheUpstreamIsUnreachable() async throws {
        // A bound socket that never listens: connecting is refused.
        let (descriptor, port) = try PortReservation.reserve()
        defer { close(descriptor) }
        let child = try PipedChild.start(["link", "--upstream", "ws://127.0.0.1:\(port)/ws/chat", "--json"])
        defer { child.process.signal(SIGKILL) }
        #expect(try await child.process.wait() == 1, "\(child.transcript)")
        try await eventually("the end of the output", limit: .seconds(10), pause: .milliseconds(20)) { child.ended }

        let events = Self.events(child)
        #expect(events.compactMap { $0["event"] as? String } == ["connecting", "disconnected", "failed"], "\(child.transcript)")
        #expect(events.dropFirst().first?["stage"] as? String == "tcp")
        #expect(events.dropFirst().first?["category"] as? String == "network")
        #expect((events.last?["message"] as? String)?.contains("check the host, the port and the network path") == true, "\(child.transcript)")
    }

    /// The `event` values docs/link.md documents.
    private static let documentedEvents: Set<String> = [
        "credentials_loaded", "connecting", "qr", "pairing_code", "pair_success", "credentials_not_written", "paired", "online",
        "credentials_updated", "keepalive_lost", "keepalive_restored", "disconnected", "logged_out", "failed",
        "message", "message_duplicate", "message_undecryptable", "stanza_refused", "identity_changed", "message_status",
    ]

    /// The JSON objects among the lines (standard error shares the pipe, so a log line may sit between them).
    private static func events(_ child: PipedChild) -> [[String: any Sendable]] {
        child.lines.compactMap { line in
            guard line.hasPrefix("{") else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: any Sendable]
        }
    }

    /// "2 min 40 s", "−186 ms", "12 µs", "1.5 s", "1 h 5 min": a number and a unit, no raw float.
    private static func isHuman(_ text: String) -> Bool {
        let units: Set<String> = ["µs", "ms", "s", "min", "h"]
        var words = text.split(separator: " ").map(String.init)
        guard !words.isEmpty, words.count % 2 == 0 else { return false }
        if words[0].hasPrefix("\u{2212}") { words[0].removeFirst() }
        return stride(from: 0, to: words.count, by: 2).allSatisfy { index in
            let number = words[index]
            let digits = number.split(separator: ".", omittingEmptySubsequences: false)
            return units.contains(words[index + 1]) && digits.count <= 2 && (digits.last?.count ?? 0) <= 3
                && digits.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        }
    }
}
