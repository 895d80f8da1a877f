import AdminAPI
import DevicePool
import FleetHarness
import Foundation
import Logging
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Synchronization
import Testing
import Webhooks

/// The webhook workers against real PostgreSQL and real receivers on 127.0.0.1: order per
/// device while another device flows, at least once across a worker that died mid-delivery,
/// 410 and a day of failures disabling an endpoint, both signatures during a rotation (checked by
/// the PyPI `standardwebhooks`), replay.
@Suite("Webhook delivery: the workers", .requiresDatabase, .timeLimit(.minutes(2)))
struct WebhookDeliveryTests {
    /// A wall clock that a test can move forward (the 24 h of a disabling).
    final class MovableNow: Sendable {
        private let offset = Mutex<TimeInterval>(0)
        func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }
        var date: Date { Date().addingTimeInterval(offset.withLock { $0 }) }
    }

    struct Fixture {
        let pool: PostgresPool
        let webhooks: WebhookStore
        let tenant: UUID
        let now = MovableNow()
        static let sealer = CredentialSealer(current: try! MasterKey(parsing: MasterKey.generate(id: "webhooks")))

        /// An endpoint of the tenant with a fresh secret.
        func endpoint(_ url: String, _ types: [EventType] = [.deviceState, .endpointDisabled]) async throws -> (id: UUID, secret: WebhookSecret) {
            let id = UUID(), secret = WebhookSecret.generate()
            _ = try #require(try await webhooks.createEndpoint(
                id: id, tenantID: tenant, url: url, eventTypes: types, description: nil,
                secret: try Self.sealer.tenant(tenant).seal(secret.bytes, deviceID: id, kind: WebhookStore.secretKind), limit: 10
            ))
            return (id, secret)
        }

        /// A `device.state` event of `device`, committed as a change would commit it.
        func emit(device: UUID, reason: String = "test") async throws -> EventID {
            try await pool.withTransaction { [tenant] connection in
                try WebhookOutbox.emit(
                    .deviceState(DeviceStateChanged(from: "online", to: "backoff", stateReason: nil, reason: reason, decision: nil, nextAttemptAt: nil)),
                    tenantID: tenant, deviceID: device, at: Date(), on: connection
                )
            }
        }

        /// Workers with quick retries (tens of milliseconds) on this fixture's clock.
        func dispatcher(_ configure: (inout WebhookConfiguration) -> Void = { _ in }) -> WebhookDispatcher {
            var configuration = WebhookConfiguration()
            configuration.allowPrivate = true
            configuration.policy.base = .milliseconds(20)
            configuration.policy.cap = .milliseconds(100)
            configuration.pollInterval = .milliseconds(20)
            configuration.delivery.responseTimeout = .seconds(5)
            configure(&configuration)
            let now = self.now
            return WebhookDispatcher(
                configuration: configuration, store: webhooks, database: pool.configuration, sealer: Self.sealer,
                instanceID: "test", now: { now.date }, logger: TestDatabase.logger
            )
        }

        func status(of endpoint: UUID) async throws -> (enabled: Bool, reason: String?, failingSince: Date?) {
            let row = try await pool.query("SELECT enabled, disabled_reason, failing_since FROM webhook_endpoints WHERE id = $1", [endpoint])[0]
            return (try row.decode(0), try row.decode(1), try row.decode(2))
        }
    }

    private func withFixture(_ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 4)
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant = try await TenantStore(pool: pool).create(name: "Acme", hosts: ["acme.example"]).tenant.id
            try await body(Fixture(pool: pool, webhooks: WebhookStore(pool: pool), tenant: tenant))
            await pool.close()
        }
    }

    /// Runs `dispatcher` as a gateway would while `body` runs.
    private func running(_ dispatcher: WebhookDispatcher, _ body: () async throws -> Void) async throws {
        let task = Task { try await dispatcher.run() }
        do {
            try await body()
        } catch {
            task.cancel()
            _ = await task.result
            throw error
        }
        task.cancel()
        _ = await task.result
    }

    @Test func aDevicesLaterEventsWaitWhileItsFirstIsRetriedAndOtherDevicesFlow() async throws {
        try await withFixture { f in
            let deviceA = UUID(), deviceB = UUID()
            let held = Mutex<(first: String, others: Set<String>, othersAccepted: Int)>(("", [], 0))
            // A's first event fails until every event of B is in: B must not wait for A.
            let receiver = try await WebhookReceiver.start(answer: { incoming in
                held.withLock { $0.first == incoming.id && $0.othersAccepted < $0.others.count } ? .status(503) : .status(200)
            }, onRequest: { request in
                held.withLock { if $0.others.contains(request.id), request.accepted { $0.othersAccepted += 1 } }
            })
            defer { Task { await receiver.stop() } }
            let endpoint = try await f.endpoint(receiver.url(path: "/in"))
            var a: [EventID] = [], b: [EventID] = []
            for index in 0..<3 {
                a.append(try await f.emit(device: deviceA, reason: "a\(index)"))
                b.append(try await f.emit(device: deviceB, reason: "b\(index)"))
            }
            held.withLock { $0 = (a[0].description, Set(b.map(\.description)), 0) }
            try await running(f.dispatcher()) {
                try await eventually("all six delivered", limit: .seconds(30), pause: .milliseconds(20)) {
                    try await f.webhooks.deliveries(endpointID: endpoint.id, before: nil, status: "delivered", limit: 10).count == 6
                }
            }
            let received = receiver.received
            let ofA = received.filter { a.map(\.description).contains($0.id) }
            let firstAccepted = try #require(ofA.firstIndex { $0.accepted })
            #expect(firstAccepted >= 1, "A's first event was retried")
            #expect(ofA[...firstAccepted].allSatisfy { $0.id == a[0].description }, "nothing of A went before its first was accepted")
            #expect(ofA.map(\.id).reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } } == a.map(\.description))
            let acceptedIndex = try #require(received.firstIndex { $0.id == a[0].description && $0.accepted })
            #expect(received[..<acceptedIndex].filter { b.map(\.description).contains($0.id) && $0.accepted }.count == 3,
                    "every event of B arrived while A's first was being retried")
            #expect(receiver.unverified(secrets: ["/in": [endpoint.secret]]).isEmpty)
            let log = try await f.webhooks.deliveries(endpointID: endpoint.id, before: nil, status: nil, limit: 10)
            #expect(log.allSatisfy { $0.status == "delivered" })
            let retried = try #require(log.first { $0.eventID == a[0] })
            #expect(retried.attempts == firstAccepted + 1)
            #expect(retried.attemptLog.map(\.statusCode) == Array(repeating: 503, count: firstAccepted) + [200])
        }
    }

    @Test func aDeliveryWhoseWorkerDiedMidCallIsSentAgainWhenItsClaimExpires() async throws {
        try await withFixture { f in
            let receiver = try await WebhookReceiver.start()
            defer { Task { await receiver.stop() } }
            let endpoint = try await f.endpoint(receiver.url(path: "/in"))
            let device = UUID()
            let first = try await f.emit(device: device), second = try await f.emit(device: device)
            // A worker claims the first, sends it, and dies before it records anything.
            let claimed = try #require(try await f.webhooks.claim(limit: 10, now: f.now.date, lease: .seconds(1), claimID: UUID()).first)
            #expect(claimed.eventID == first)
            let client = DeliveryClient(configuration: { var c = DeliveryClient.Configuration(); c.addressPolicy = .init(allowPrivate: true); return c }(),
                                        logger: TestDatabase.logger)
            let url = try WebhookURL(validating: claimed.url, policy: .init(allowPrivate: true))
            let headers = WebhookSigner.sign(id: claimed.eventID.description, timestamp: Date(), body: claimed.body, secrets: [endpoint.secret])
            let sent = try await client.deliver(.init(endpointID: "dead", url: url, headers: headers, body: claimed.body))
            await client.shutdown()
            #expect(sent.isSuccess)
            try await running(f.dispatcher()) {
                try await eventually("both delivered", limit: .seconds(30), pause: .milliseconds(50)) {
                    try await f.webhooks.deliveries(endpointID: endpoint.id, before: nil, status: "delivered", limit: 10).count == 2
                }
            }
            #expect(receiver.received.map(\.id) == [first, first, second].map(\.description), "at least once, and still in order")
            let log = try await f.webhooks.deliveries(endpointID: endpoint.id, before: nil, status: nil, limit: 10)
            #expect(log.first { $0.eventID == first }?.attempts == 2)
        }
    }

    @Test func a410DisablesTheEndpointAndTellsTheTenantsOtherEndpoints() async throws {
        try await withFixture { f in
            let receiver = try await WebhookReceiver.start(answer: { $0.path.hasPrefix("/gone") ? .status(410) : .status(200) })
            defer { Task { await receiver.stop() } }
            let gone = try await f.endpoint(receiver.url(path: "/gone?token=secret"), [.deviceState])
            let other = try await f.endpoint(receiver.url(path: "/ok"))
            let device = UUID()
            _ = try await f.emit(device: device)
            _ = try await f.emit(device: device)
            try await running(f.dispatcher()) {
                try await eventually("the other endpoint told", limit: .seconds(30), pause: .milliseconds(20)) {
                    receiver.received.contains { $0.path == "/ok" && $0.event?.type == .endpointDisabled }
                }
            }
            #expect(receiver.received.filter { $0.path == "/gone?token=secret" }.count == 1, "nothing more after the 410")
            #expect(try await f.status(of: gone.id).enabled == false)
            #expect(try await f.status(of: gone.id).reason == "gone")
            let log = try await f.webhooks.deliveries(endpointID: gone.id, before: nil, status: nil, limit: 10)
            #expect(log.map(\.status) == ["failed", "failed"])
            #expect(log.map(\.lastError) == ["endpoint_disabled", "http_410"])
            let notice = try #require(receiver.received.first { $0.event?.type == .endpointDisabled }?.event)
            #expect(notice.deviceID == nil)
            #expect(notice.data == .endpointDisabled(EndpointDisabled(
                endpointID: gone.id, url: receiver.url(path: "/gone"), reason: .gone, failingSince: nil, lastError: "http_410"
            )))
            #expect(receiver.unverified(secrets: ["/ok": [other.secret], "/gone?token=secret": [gone.secret]]).isEmpty)
        }
    }

    @Test func anEndpointFailingForADayIsDisabledAndItsDeliveryShownFailed() async throws {
        try await withFixture { f in
            let receiver = try await WebhookReceiver.start(answer: { $0.path == "/down" ? .status(503) : .status(200) })
            defer { Task { await receiver.stop() } }
            let down = try await f.endpoint(receiver.url(path: "/down"), [.deviceState])
            _ = try await f.endpoint(receiver.url(path: "/ok"), [.endpointDisabled])
            _ = try await f.emit(device: UUID())
            let dispatcher = f.dispatcher()
            let started = f.now.date
            #expect(try await dispatcher.deliverDue() == 1)
            let failing = try #require(try await f.status(of: down.id).failingSince)
            #expect(abs(failing.timeIntervalSince(started)) < 5)
            f.now.advance(by: 12 * 3600)
            #expect(try await dispatcher.deliverDue() == 1)
            #expect(try await f.status(of: down.id).enabled, "12 hours of failures do not disable")
            f.now.advance(by: 13 * 3600)
            #expect(try await dispatcher.deliverDue() == 1)
            #expect(try await f.status(of: down.id) == (false, "failing", failing))
            let log = try await f.webhooks.deliveries(endpointID: down.id, before: nil, status: "failed", limit: 10)
            #expect(log.first?.attempts == 3)
            #expect(log.first?.attemptLog.map(\.statusCode) == [503, 503, 503])
            #expect(try await dispatcher.deliverDue() == 1, "endpoint.disabled goes to the other endpoint")
            let notice = try #require(receiver.received.last?.event)
            guard case .endpointDisabled(let disabled) = notice.data else {
                Issue.record("expected endpoint.disabled, got \(notice.type)")
                return
            }
            #expect((disabled.endpointID, disabled.reason, disabled.lastError) == (down.id, .failing, "http_503"))
            #expect(abs((disabled.failingSince ?? .distantPast).timeIntervalSince(failing)) < 0.001)
        }
    }

    @Test(.enabled("needs python3 with standardwebhooks (pip)") { if TestEnvironment.requiresTools { true } else { await PythonModules.available("standardwebhooks") } })
    func duringARotationBothSecretsVerifyWithStandardWebhooksThenOnlyTheNewOne() async throws {
        try #require(await PythonModules.available("standardwebhooks"), "install standardwebhooks with pip (ops/test.sh does)")
        try await withFixture { f in
            let receiver = try await WebhookReceiver.start()
            defer { Task { await receiver.stop() } }
            let endpoint = try await f.endpoint(receiver.url(path: "/in"))
            let fresh = WebhookSecret.generate()
            _ = try await f.webhooks.rotateSecret(
                endpoint.id, tenantID: f.tenant, secret: try Fixture.sealer.tenant(f.tenant).seal(fresh.bytes, deviceID: endpoint.id, kind: WebhookStore.secretKind),
                previousExpiresAt: f.now.date.addingTimeInterval(86_400), now: f.now.date
            )
            _ = try await f.emit(device: UUID())
            let dispatcher = f.dispatcher()
            #expect(try await dispatcher.deliverDue() == 1)
            let request = try #require(receiver.received.first)
            #expect(request.signature.split(separator: " ").count == 2)
            let verdicts = try await WebhookPython.standardWebhooks(request, secrets: [endpoint.secret, fresh, WebhookSecret.generate()])
            #expect(verdicts == ["ok", "ok", "refused"])
            // A day later the old secret no longer signs.
            f.now.advance(by: 86_401)
            _ = try await f.emit(device: UUID())
            #expect(try await dispatcher.deliverDue() == 1)
            let later = try #require(receiver.received.last)
            #expect(later.signature.split(separator: " ").count == 1)
            #expect(throws: WebhookVerificationError.self) {
                try WebhookVerifier(secrets: [endpoint.secret]).verify(
                    body: later.body, id: later.id, timestamp: later.timestamp, signature: later.signature, now: f.now.date
                )
            }
            try WebhookVerifier(secrets: [fresh]).verify(body: later.body, id: later.id, timestamp: later.timestamp, signature: later.signature, now: f.now.date)
        }
    }

    @Test func aReplaySendsTheEventsAgainInOrderAsNewDeliveries() async throws {
        try await withFixture { f in
            let receiver = try await WebhookReceiver.start()
            defer { Task { await receiver.stop() } }
            let endpoint = try await f.endpoint(receiver.url(path: "/in"))
            let device = UUID()
            var ids: [EventID] = []
            for _ in 0..<3 { ids.append(try await f.emit(device: device)) }
            let dispatcher = f.dispatcher()
            while try await dispatcher.deliverDue() > 0 {}
            #expect(receiver.received.map(\.id) == ids.map(\.description))
            #expect(try await f.webhooks.replay(endpointID: endpoint.id, tenantID: f.tenant, from: .afterEvent(ids[0]), limit: 100)
                    == .replayed(count: 2, lastEventID: ids[2]))
            while try await dispatcher.deliverDue() > 0 {}
            #expect(receiver.received.map(\.id) == (ids + ids[1...]).map(\.description))
            #expect(receiver.received[3].body == receiver.received[1].body, "the stored bytes, unchanged")
            #expect(try await f.webhooks.deliveries(endpointID: endpoint.id, before: nil, status: "delivered", limit: 10).count == 5)
        }
    }
}

/// python3 with the PyPI `standardwebhooks` package, the independent verifier.
enum WebhookPython {
    static var executable: String? { ChildProcess.find("python3") }

    /// `ok` or `refused` for `request` under each secret alone.
    static func standardWebhooks(_ request: WebhookReceiver.Request, secrets: [WebhookSecret]) async throws -> [String] {
        let script = """
            import json, sys
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError
            case = json.load(open(sys.argv[1]))
            results = []
            for secret in case["secrets"]:
                try:
                    Webhook(secret).verify(bytes(case["body"]), case["headers"])
                    results.append("ok")
                except WebhookVerificationError:
                    results.append("refused")
            print(json.dumps(results))
            """
        let input: [String: any Sendable] = [
            "secrets": secrets.map(\.serialized), "body": request.body.map(Int.init),
            "headers": ["webhook-id": request.id, "webhook-timestamp": request.timestamp, "webhook-signature": request.signature],
        ]
        let path = TestEnvironment.scratchDirectory + "/standardwebhooks-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: input).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await ChildProcess.run(try #require(executable), ["-c", script, path])
        #expect(result.status == 0, "\(result.errorText)")
        return try JSONDecoder().decode([String].self, from: Data(result.output))
    }
}
