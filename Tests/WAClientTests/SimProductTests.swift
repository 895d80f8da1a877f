import Foundation
import Logging
import NIOPosix
import Testing
import WAClient
import WAWire
@testable import WASim
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `pairgate sim` as a gateway sees it: started on free loopback ports, reached by the real client
/// over WebSocket, its phone driven through the control API.
@Suite("Simulator product over loopback")
struct SimProductTests {
    /// Reads one connection's events in order, waiting (bounded) for the next.
    final class EventReader: @unchecked Sendable {
        private var iterator: UpstreamEvents.AsyncIterator

        init(_ opened: (connection: UpstreamConnection, events: UpstreamEvents)) {
            iterator = opened.events.makeAsyncIterator()
        }

        /// The next event that `match` accepts, skipping others; fails after `timeout`.
        func next<T>(within timeout: Duration = .seconds(20), _ match: (ClientEvent) -> T?) async throws -> T {
            let deadline = ContinuousClock.now + timeout
            var skipped: [String] = []
            while ContinuousClock.now < deadline {
                guard let event = await iterator.next() else { break }
                if let value = match(event) { return value }
                skipped.append("\(event)")
            }
            throw NotSeen(skipped: skipped)
        }

        /// The stream ended (or time ran out) first; `skipped` says what came instead.
        struct NotSeen: Error { var skipped: [String] }
    }

    private static let logger = Logger(label: "sim-product-tests")

    private static func start(_ change: (inout SimConfiguration) -> Void = { _ in }) async throws -> (Simulator, Simulator.Endpoints) {
        var configuration = SimConfiguration()
        configuration.server.port = 0
        configuration.control.port = 0
        configuration.threads = 1
        configuration.pairingTimeout = .seconds(10)
        change(&configuration)
        let simulator = try Simulator(configuration: configuration, logger: logger)
        return (simulator, try await simulator.start())
    }

    /// Runs `body` against a started simulator and always shuts it down afterwards.
    private static func withSimulator(
        _ change: (inout SimConfiguration) -> Void = { _ in },
        _ body: (Simulator, Simulator.Endpoints) async throws -> Void
    ) async throws {
        let (simulator, endpoints) = try await start(change)
        do {
            try await body(simulator, endpoints)
        } catch {
            await simulator.shutdown()
            throw error
        }
        await simulator.shutdown()
    }

    private static func client(
        for simulator: Simulator, _ endpoints: Simulator.Endpoints, _ change: (inout ClientConfiguration) -> Void = { _ in }
    ) throws -> UpstreamClient {
        var configuration = ClientConfiguration()
        configuration.upstreamURL = endpoints.webSocketURL
        configuration.session.trustedRootKey = simulator.rootKey.publicKey
        if let ca = endpoints.certificateAuthorityPEM {
            configuration.tls = try ClientTLS(trustRoots: .pem(Array(ca.utf8)))
        }
        change(&configuration)
        return UpstreamClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration, logger: logger)
    }

    /// Pairs fresh credentials by QR through `POST /phone/scan` and returns them as persisted.
    private static func pairByQR(_ client: UpstreamClient, controlURL: String) async throws -> (DeviceCredentials, String) {
        let events = EventReader(client.connect(credentials: .generate(), intent: .pair(.qr)))
        let qr = try await events.next { if case .qr(let code, _) = $0 { code } else { nil } }
        async let scanned = post(controlURL + "/phone/scan", json: String(decoding: try JSONEncoder().encode(["qr": qr]), as: UTF8.self))
        let credentials = try await events.next { event -> DeviceCredentials? in
            guard case .pairSuccess(let credentials, let confirmation) = event else { return nil }
            confirmation.accept()
            return credentials
        }
        let (status, body) = try await scanned
        #expect(status == 200)
        let restart = try await events.next { if case .disconnected(let reason) = $0 { reason } else { nil } }
        #expect(restart.category == .restartRequired)
        return (credentials, body)
    }

    private static func post(_ url: String, json: String) async throws -> (Int, String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func pairsByQRThroughTheControlAPIThenLogsIn() async throws {
        try await Self.withSimulator { simulator, endpoints in
            #expect(endpoints.webSocketURL.hasPrefix("ws://127.0.0.1:"))
            let client = try Self.client(for: simulator, endpoints)

            let (credentials, scanBody) = try await Self.pairByQR(client, controlURL: endpoints.controlURL)
            let jid = try #require(credentials.account?.jid)
            #expect(scanBody.contains(#""status":"linked""#))
            #expect(scanBody.contains(jid))

            let login = client.connect(credentials: credentials, intent: .login)
            let online = try await EventReader(login).next { if case .online(let info) = $0 { info } else { nil } }
            #expect(online.jid == jid)
            let devices = try simulator.devices(of: "15550001234")
            #expect(devices.map(\.jid) == [jid])
            #expect(devices.first?.online == true)

            let stats = simulator.stats.snapshot()
            #expect(stats.pairingsCompleted == 1)
            #expect(stats.logins == 1)
            #expect(stats.registrations == 1)
            #expect(stats.refsServed == 6)
            #expect(stats.maxConcurrentPerDevice == 1)
            #expect(stats.violationCount == 0, "\(stats.violations)")
            await login.connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "test over"))
        }
    }

    @Test func aContactReceivesAMessageSentOverTheSocketAndReceiptsItDeliveredThenRead() async throws {
        try await Self.withSimulator({ $0.readReceiptDelay = 0.2 }) { simulator, endpoints in
            let client = try Self.client(for: simulator, endpoints)
            let (credentials, _) = try await Self.pairByQR(client, controlURL: endpoints.controlURL)
            let login = client.connect(credentials: credentials, intent: .login)
            let events = EventReader(login)
            let online = try await events.next { if case .online(let info) = $0 { info } else { nil } }
            let alice = try simulator.contact("15557000001", name: "Alice")
            let bundle = try #require(simulator.world.preKeyBundles([alice.lid])[alice.lid])

            var device = try ReceivingDevice(credentials: credentials, lid: online.lid.flatMap(JID.init(parsing:)))
            try device.startSession(with: alice.lid, bundle: bundle)
            let copy = try device.encrypt(SimMessaging.text("hello over the wire"), for: alice.lid)
            try await login.connection.send([MessageStanza.direct(
                id: "3EB0BBBBBBBBBBBBBBBB01", to: alice.lid, attributes: MessageAttributes(type: "text"), recipients: [copy],
                deviceIdentity: device.deviceIdentity, peerRecipientPN: alice.jid
            )])

            for type in [nil, "read"] as [String?] {
                let receipt = try await events.next { event -> Node? in
                    guard case .stanza(let node) = event, node.tag == "receipt", node.attribute("type") == type else { return nil }
                    return node
                }
                #expect(receipt.jidAttribute("from") == alice.lid)
                #expect(receipt.attribute("id") == "3EB0BBBBBBBBBBBBBBBB01")
                try await login.connection.send([StanzaEnvelope(receipt).ack()])
            }
            let stats = simulator.statsSnapshot(includeDevices: true)
            #expect(stats.receivedByContact == ["15557000001": 1])
            #expect(stats.messagesFromDevices == 1)
            #expect(stats.devices?.first { $0.jid == credentials.account?.jid }?.sent == 1)
            #expect(stats.violationCount == 0, "\(stats.violations)")
            await login.connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "test over"))
        }
    }

    @Test func pairedDevicesAndTheRootSurviveARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sim-restart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files: (inout SimConfiguration) -> Void = {
            $0.rootKeyPath = directory.appendingPathComponent("root.key").path
            $0.statePath = directory.appendingPathComponent("state.json").path
        }
        var paired: DeviceCredentials?
        var firstRoot = ""
        try await Self.withSimulator(files) { first, endpoints in
            firstRoot = first.rootPublicKeyHex
            paired = try await Self.pairByQR(try Self.client(for: first, endpoints), controlURL: endpoints.controlURL).0
        }
        let credentials = try #require(paired)

        try await Self.withSimulator(files) { second, endpoints in
            #expect(second.rootPublicKeyHex == firstRoot)
            let login = EventReader(try Self.client(for: second, endpoints).connect(credentials: credentials, intent: .login))
            let online = try await login.next { if case .online(let info) = $0 { info } else { nil } }
            #expect(online.jid == credentials.account?.jid)
        }
    }

    @Test func servesWSSWithItsGeneratedCertificate() async throws {
        try await Self.withSimulator({ $0.tls = true }) { simulator, endpoints in
            #expect(endpoints.webSocketURL.hasPrefix("wss://127.0.0.1:"))
            let client = try Self.client(for: simulator, endpoints)
            let events = EventReader(client.connect(credentials: .generate(), intent: .pair(.qr)))
            let qr = try await events.next { if case .qr(let code, _) = $0 { code } else { nil } }
            #expect(qr.hasPrefix(PairingQR.prefix))
        }
    }

    @Test func pairsByCodeForAPhoneNumber() async throws {
        try await Self.withSimulator({ $0.phones = ["447700900123"] }) { simulator, endpoints in
            let client = try Self.client(for: simulator, endpoints)
            let events = EventReader(client.connect(credentials: .generate(), intent: .pair(.code(phoneNumber: "447700900123"))))
            let code = try await events.next { if case .pairingCode(let code, _) = $0 { code } else { nil } }
            async let linked = simulator.enterCode(code, phone: "+44 7700 900123")
            _ = try await events.next { event -> Bool? in
                guard case .pairSuccess(_, let confirmation) = event else { return nil }
                confirmation.accept()
                return true
            }
            let device = try await linked
            #expect(device.jid.hasPrefix("447700900123:"))
            #expect(simulator.stats.snapshot().pairingsCompleted == 1)
        }
    }

    @Test func unlinkingFromThePhoneLogsTheOnlineDeviceOutAndRefusesItsNextLogin() async throws {
        try await Self.withSimulator { simulator, endpoints in
            let client = try Self.client(for: simulator, endpoints)
            let (credentials, _) = try await Self.pairByQR(client, controlURL: endpoints.controlURL)
            let login = EventReader(client.connect(credentials: credentials, intent: .login))
            _ = try await login.next { if case .online(let info) = $0 { info } else { nil } }

            let device = try #require(try simulator.devices(of: "15550001234").first)
            try simulator.unlink(device: device.id, of: "15550001234")
            let removed = try await login.next { if case .loggedOut(let reason) = $0 { reason } else { nil } }
            #expect(removed.category == .loggedOut)

            let again = EventReader(client.connect(credentials: credentials, intent: .login))
            let refused = try await again.next { if case .loggedOut(let reason) = $0 { reason } else { nil } }
            #expect(refused.code == 401)
            #expect(simulator.stats.snapshot().loginsRefused == ["401": 1])
        }
    }

    @Test func armedLoginFaultsSkipTheRegistrationAndHitTheLogin() async throws {
        try await Self.withSimulator { simulator, endpoints in
            let client = try Self.client(for: simulator, endpoints)
            try simulator.faults.arm(ArmedFault(kind: .failure405))
            let (credentials, _) = try await Self.pairByQR(client, controlURL: endpoints.controlURL)

            let outdated = EventReader(client.connect(credentials: credentials, intent: .login))
            let reason = try await outdated.next { if case .disconnected(let reason) = $0 { reason } else { nil } }
            #expect(reason.category == .clientOutdated)

            let jid = try #require(credentials.account?.jid)
            // No delay: the first login's prekey upload may outlast the default second on a busy machine.
            try simulator.faults.arm(ArmedFault(kind: .conflictReplaced, device: jid, delay: .zero))
            let replaced = EventReader(client.connect(credentials: credentials, intent: .login))
            let ending = try await replaced.next { if case .disconnected(let reason) = $0 { reason } else { nil } }
            #expect(ending.category == .replaced)
            #expect(simulator.stats.snapshot().faultsInjected == ["failure_405": 1, "conflict_replaced": 1])
        }
    }

    @Test func liveFaultHitsTheConnectionOfAnOnlineDeviceNow() async throws {
        try await Self.withSimulator { simulator, endpoints in
            let client = try Self.client(for: simulator, endpoints)
            let (credentials, _) = try await Self.pairByQR(client, controlURL: endpoints.controlURL)
            let jid = try #require(credentials.account?.jid)
            #expect(try simulator.injectNow(.streamError503, device: jid) == false)

            let login = EventReader(client.connect(credentials: credentials, intent: .login))
            _ = try await login.next { if case .online(let info) = $0 { info } else { nil } }
            let (status, _) = try await Self.post(
                endpoints.controlURL + "/faults", json: #"{"kind":"stream_error_503","live":true,"device":"\#(jid)"}"#
            )
            #expect(status == 200)
            let reason = try await login.next { if case .disconnected(let reason) = $0 { reason } else { nil } }
            #expect(reason.category == .serverError)
            #expect(reason.code == 503)
        }
    }

    @Test func connectionFaultsEndTheHandshakeAsArmed() async throws {
        try await Self.withSimulator { simulator, endpoints in
            let client = try Self.client(for: simulator, endpoints) { $0.session.timeouts.handshake = .milliseconds(300) }
            for kind in [FaultKind.refuseConnection, .dropHandshake, .delayHandshake] {
                try simulator.faults.arm(ArmedFault(kind: kind, delay: .seconds(2)))
                let events = EventReader(client.connect(credentials: .generate(), intent: .pair(.qr)))
                let reason = try await events.next { if case .disconnected(let reason) = $0 { reason } else { nil } }
                // A socket closed right after the upgrade may reach the client before it has finished the upgrade.
                let stages: [DisconnectReason.Stage] = kind == .refuseConnection ? [.websocket, .noise] : [.noise]
                #expect(stages.contains(reason.stage), "\(kind): \(reason)")
                #expect(reason.category == (kind == .delayHandshake ? .timeout : .network), "\(kind): \(reason)")
            }
            #expect(simulator.stats.snapshot().faultsInjected == ["refuse_connection": 1, "drop_handshake": 1, "delay_handshake": 1])
        }
    }

    @Test func missingKeepaliveAnswersMakeTheClientGiveUp() async throws {
        try await Self.withSimulator { simulator, endpoints in
            // Pairs with the usual keepalive: a 50 ms answer deadline could expire in a pairing on a
            // loaded machine, which is not what this test is about.
            let (credentials, _) = try await Self.pairByQR(try Self.client(for: simulator, endpoints), controlURL: endpoints.controlURL)
            let client = try Self.client(for: simulator, endpoints) {
                $0.session.keepalive.minimumInterval = .milliseconds(100)
                $0.session.keepalive.maximumInterval = .milliseconds(120)
                $0.session.keepalive.responseDeadline = .milliseconds(50)
                $0.session.keepalive.maximumFailureTime = .seconds(2)
            }
            try simulator.faults.arm(ArmedFault(kind: .missingKeepalive))
            // No ping is answered from the start, and the first login derives and uploads 812
            // prekeys: on a loaded machine the client may give up before it is online, so
            // `.online` is not waited for; giving up is what this test is about.
            let login = EventReader(client.connect(credentials: credentials, intent: .login))
            _ = try await login.next { if case .keepaliveLost(let failures, _) = $0 { failures } else { nil } }
            let reason = try await login.next { if case .disconnected(let reason) = $0 { reason } else { nil } }
            #expect(reason.category == .keepaliveLost)
            #expect(simulator.stats.snapshot().faultsInjected["missing_keepalive"] == 1)
        }
    }

    @Test func refreshOnScanAsksForASecondScanOfTheRerenderedQR() async throws {
        try await Self.withSimulator({ $0.refreshOnScan = true }) { simulator, endpoints in
            let client = try Self.client(for: simulator, endpoints)
            let events = EventReader(client.connect(credentials: .generate(), intent: .pair(.qr)))
            let first = try await events.next { if case .qr(let code, _) = $0 { code } else { nil } }
            #expect(try await simulator.scan(qr: first) == .refreshSent)
            let rerendered = try await events.next { if case .qr(let code, _) = $0 { code } else { nil } }
            #expect(rerendered != first)
            #expect(try PairingQR.parse(rerendered).ref == PairingQR.parse(first).ref)
            async let linked = simulator.scan(qr: rerendered)
            _ = try await events.next { event -> Bool? in
                guard case .pairSuccess(_, let confirmation) = event else { return nil }
                confirmation.accept()
                return true
            }
            guard case .linked = try await linked else {
                Issue.record("the second scan did not link")
                return
            }
        }
    }
}
