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

/// The real `pairgate link --stay` against the real simulator: simulated contacts write 1:1 (by
/// LID and by phone number), in a group and from the account's own phone, one copy is broken on
/// the way; the command prints each message once as it arrives, answers every stanza as the
/// simulator demands (nothing left pending, no violation), and after a SIGKILL logs in again with
/// its files and takes delivery of what waited, without printing anything twice.
@Suite("pairgate link --stay receives", .timeLimit(.minutes(4)))
struct LinkReceiveTests {
    private static let phone = "15557650001"
    private static let ann = "15557001001", bob = "15557001002"
    private static let logger = Logger(label: "pairgate.tests.link-receive")

    @Test func linkStayPrintsEachMessageOnceAnswersEveryStanzaAndResumesAfterAKill() async throws {
        var configuration = SimConfiguration()
        configuration.server.port = 0
        configuration.control.port = 0
        configuration.threads = 1
        configuration.phones = [Self.phone]
        let simulator = try Simulator(configuration: configuration, logger: Self.logger)
        let endpoints = try await simulator.start()
        let credentials = TestEnvironment.scratchDirectory + "/link-stay-\(UUID().uuidString.prefix(8)).json"
        let state = credentials + ".signal"
        defer {
            unlink(credentials)
            unlink(state)
        }
        do {
            try await receive(simulator: simulator, endpoints: endpoints, credentials: credentials, state: state)
        } catch {
            await simulator.shutdown()
            throw error
        }
        await simulator.shutdown()
    }

    private func receive(simulator: Simulator, endpoints: Simulator.Endpoints, credentials: String, state: String) async throws {
        let upstream = ["--upstream", endpoints.webSocketURL, "--root-key", simulator.rootPublicKeyHex, "--credentials-file", credentials]
        // A state file left by a device that is gone: pairing a new one must not read it.
        try Data("left by another device".utf8).write(to: URL(fileURLWithPath: state))
        let first = try PipedChild.start(["link"] + upstream + ["--method", "code", "--phone", Self.phone, "--stay", "--json"])
        defer { first.process.signal(SIGKILL) }
        try await eventually("the pairing code", limit: .seconds(60), pause: .milliseconds(20)) {
            Self.events(first, "pairing_code").first != nil || first.ended
        }
        let code = try #require(Self.events(first, "pairing_code").first?["pairing_code"] as? String, "\(first.transcript)")
        _ = try await simulator.enterCode(code, phone: Self.phone)
        try await eventually("online", limit: .seconds(60), pause: .milliseconds(20)) {
            Self.events(first, "online").first != nil || first.ended
        }
        let device = try #require(Self.events(first, "online").first?["jid"] as? String, "\(first.transcript)")

        try simulator.contact(Self.ann, name: "Ann")
        try simulator.contact(Self.bob, name: "Bob")
        let group = try simulator.createGroup(account: Self.phone, members: [Self.ann, Self.bob], subject: "Link")
        let direct = try simulator.send(from: Self.ann, to: Self.phone, text: "hello link")
        let byNumber = try simulator.send(from: Self.bob, to: Self.phone, text: "by number", addressing: .pn)
        let inGroup = try simulator.sendToGroup(group.id, from: Self.bob, text: "hello group")
        let fromPhone = try simulator.sendFromPhone(Self.phone, to: Self.ann, text: "from my phone")
        // The next copy for the device arrives with a broken MAC: a retry receipt, then the resend.
        try simulator.faults.arm(ArmedFault(kind: .undecryptableMessage, device: device))
        let retried = try simulator.send(from: Self.ann, to: Self.phone, text: "after a retry")
        let texts = ["hello link", "by number", "hello group", "from my phone", "after a retry"]

        try await eventually("every message printed and answered", limit: .seconds(60), pause: .milliseconds(50)) {
            Set(Self.events(first, "message").compactMap { $0["text"] as? String }).isSuperset(of: texts)
                && Self.pending(simulator, device) == 0 || first.ended
        }
        #expect(!first.ended, "\(first.transcript)")
        let messages = Self.events(first, "message")
        #expect(messages.compactMap { $0["text"] as? String }.sorted() == texts.sorted(), "each once:\n\(first.transcript)")
        let byText = Dictionary(messages.map { ($0["text"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        for (text, sent) in [("hello link", direct), ("by number", byNumber), ("hello group", inGroup), ("after a retry", retried)] {
            let printed = try #require(byText[text])
            #expect(printed["id"] as? String == sent.id)
            #expect(printed["chat"] as? String == sent.chat.description, "\(printed)")
            #expect(printed["sender"] as? String == sent.sender.description, "\(printed)")
            #expect(printed["type"] as? String == "text", "\(printed)")
            #expect(printed["from_me"] as? Bool == false)
        }
        let mine = try #require(byText["from my phone"])
        #expect(mine["from_me"] as? Bool == true, "\(mine)")
        #expect(mine["chat"] as? String == fromPhone.chat.description, "\(mine)")
        let failure = try #require(Self.events(first, "message_undecryptable").first, "\(first.transcript)")
        #expect(failure["id"] as? String == retried.id)
        #expect(failure["retry_count"] as? Int == 1, "\(failure)")

        let stats = simulator.statsSnapshot(includeDevices: true)
        #expect(stats.violationCount == 0, "\(stats.violations)")
        #expect(stats.retriesAnswered == 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: state)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(attributes)")
        #expect(!FileManager.default.fileExists(atPath: state + ".tmp"))

        // Killed outright; a message waits in the offline queue; the next run logs in with both files.
        first.process.signal(SIGKILL)
        _ = try await first.process.wait()
        try await eventually("the device offline", limit: .seconds(30), pause: .milliseconds(20)) { !simulator.stats.isOnline(device) }
        let waiting = try simulator.sendToGroup(group.id, from: Self.ann, text: "while you were away")
        let second = try PipedChild.start(["link"] + upstream + ["--stay"])
        defer { second.process.signal(SIGKILL) }
        let line = "message \(waiting.id) from \(waiting.sender) in \(waiting.chat) (text): while you were away"
        try await eventually("the waiting message printed and answered", limit: .seconds(60), pause: .milliseconds(50)) {
            second.lines.contains(line) && Self.pending(simulator, device) == 0 || second.ended
        }
        #expect(second.lines.contains("logging in with \(credentials)"), "\(second.transcript)")
        #expect(second.lines.filter { $0.hasPrefix("message ") } == [line], "nothing else, nothing twice:\n\(second.transcript)")
        #expect(simulator.statsSnapshot().violationCount == 0)
    }

    /// Stanzas the simulator still waits for the device to answer.
    private static func pending(_ simulator: Simulator, _ device: String) -> Int {
        simulator.statsSnapshot(includeDevices: true).devices?.first { $0.jid == device }?.pending ?? 0
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
