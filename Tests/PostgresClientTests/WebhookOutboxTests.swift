import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient
import Webhooks

/// The transactional outbox on a real PostgreSQL: each change writes its event in its own
/// transaction (and a rolled-back or fenced change writes none), deliveries queue per endpoint
/// and device, and the store's upkeep reads the backlog and applies retention.
@Suite("Webhook outbox: events with their changes", .requiresDatabase)
struct WebhookOutboxTests {
    static let rule = WebhookStore.DisableRule(gone: false, failingFor: .seconds(86_400), redactedURL: "https://hooks.example.com/in")

    struct Fixture {
        let store: PostgresDeviceStore
        let webhooks: WebhookStore
        let pool: PostgresPool
        let tenant: UUID

        /// An endpoint of the tenant subscribed to `types`.
        @discardableResult
        func endpoint(_ types: [EventType] = EventType.allCases, url: String = "https://hooks.example.com/in") async throws -> UUID {
            let id = UUID()
            _ = try #require(try await webhooks.createEndpoint(
                id: id, tenantID: tenant, url: url, eventTypes: types, description: nil,
                secret: SealedCredential(keyID: "k", bytes: [1, 2, 3]), limit: 10
            ))
            return id
        }

        /// The tenant's events in commit order: type, device, per-device sequence, the decoded body.
        func events() async throws -> [(type: String, device: UUID?, sequence: Int64, event: WebhookEvent)] {
            try await pool.query(
                "SELECT type, device_id, sequence, body FROM webhook_events WHERE tenant_id = $1 ORDER BY position", [tenant]
            ).map { (try $0.decode(0), try $0.decode(1), try $0.decode(2), try WebhookEvent(jsonBody: try $0.decode(3, as: [UInt8].self))) }
        }

        /// Deliveries of one endpoint: event type, status, whether it is due (a queue head).
        func deliveries(_ endpoint: UUID) async throws -> [(type: String, status: String, head: Bool)] {
            try await pool.query("""
                SELECT ev.type, d.status, d.next_attempt_at IS NOT NULL FROM webhook_deliveries d
                JOIN webhook_events ev ON ev.id = d.event_id WHERE d.endpoint_id = $1 ORDER BY d.id
                """, [endpoint]).map { (try $0.decode(0), try $0.decode(1), try $0.decode(2)) }
        }
    }

    private func withFixture(_ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant = try await TenantStore(pool: pool).create(name: "Acme", hosts: ["acme.example"]).tenant.id
            try await body(Fixture(store: PostgresDeviceStore(pool: pool), webhooks: WebhookStore(pool: pool), pool: pool, tenant: tenant))
            await pool.close()
        }
    }

    private func startPairing(_ f: Fixture) async throws -> PairingStart {
        try await f.store.beginPairing(tenantID: f.tenant, deviceID: nil, name: "phone", method: .qr, owner: "a", leaseTTL: .seconds(30), window: .seconds(180))
    }

    @Test func everyTransitionCommitsItsEventAndQueuesItBehindTheDevicesEarlierOne() async throws {
        try await withFixture { f in
            let endpoint = try await f.endpoint([.deviceState])
            let quiet = try await f.endpoint([.pairingEnded])
            let start = try await startPairing(f)
            try await f.store.recordTransition(start.lease, .init(from: .unpaired, to: .pairing(.qr), reason: "pair_requested"), instance: "a")
            try await f.store.recordTransition(start.lease, .init(from: .pairing(.qr), to: .paired, reason: "paired"), instance: "a")
            let events = try await f.events()
            #expect(events.map(\.type) == ["device.state", "device.state"])
            #expect(events.map(\.sequence) == [1, 2])
            #expect(events.allSatisfy { $0.device == start.device.id && $0.event.deviceID == start.device.id && $0.event.tenantID == f.tenant })
            guard case .deviceState(let first) = events[0].event.data, case .deviceState(let second) = events[1].event.data else {
                Issue.record("not device.state events")
                return
            }
            #expect((first.from, first.to, first.stateReason, first.reason) == ("unpaired", "pairing", "qr", "pair_requested"))
            #expect((second.from, second.to, second.stateReason, second.decision) == ("pairing", "paired", nil, nil))
            // The history row and the event are one: same time.
            let at: Date = try await f.pool.query("SELECT max(at) FROM state_transitions WHERE device_id = $1", [start.device.id])[0].decode(0)
            #expect(abs(events[1].event.timestamp.timeIntervalSince(at)) < 0.001)
            // The first is the head of the device's queue; the second waits behind it.
            #expect(try await f.deliveries(endpoint).map(\.head) == [true, false])
            #expect(try await f.deliveries(quiet).isEmpty, "an endpoint gets only the types it subscribed to")
        }
    }

    @Test func aDisconnectsTransitionCarriesItsDecisionAndALogoutSendsDeviceLoggedOut() async throws {
        try await withFixture { f in
            try await f.endpoint()
            let start = try await startPairing(f)
            try await f.store.saveAccount(start.lease, jid: "15551234567:3@s.whatsapp.net", lid: nil, platform: nil)
            let removed = DisconnectReason(stage: .stream, category: .loggedOut, code: 401, detail: "stream:error device_removed")
            try await f.store.recordTransition(start.lease, .init(
                from: .online, to: .loggedOut(reason: "logged_out"), reason: "logged_out", disconnect: removed, decision: .logOut
            ), instance: "a")
            let events = try await f.events()
            #expect(events.map(\.type) == ["device.state", "device.logged_out"])
            #expect(events.map(\.sequence) == [1, 2])
            if case .deviceState(let state) = events[0].event.data {
                #expect((state.to, state.decision, state.reason) == ("logged_out", "logged_out", "logged_out"))
            }
            #expect(events[1].event.data == .deviceLoggedOut(DeviceLoggedOut(
                reason: "logged_out", detail: "stream:error device_removed", number: "+1555•••4567"
            )))
        }
    }

    @Test func aFencedOrRolledBackChangeLeavesNoEvent() async throws {
        try await withFixture { f in
            let endpoint = try await f.endpoint()
            let start = try await startPairing(f)
            try await f.store.releaseLease(start.lease)
            _ = try #require(try await f.store.acquireLease(deviceID: start.device.id, owner: "b", ttl: .seconds(30)))
            await #expect(throws: LeaseLost.self) {
                try await f.store.recordTransition(start.lease, .init(from: .unpaired, to: .pairing(.qr), reason: "pair_requested"), instance: "a")
            }
            // An event written, then the transaction fails: neither the event nor its delivery stays.
            struct Failure: Error {}
            await #expect(throws: Failure.self) {
                try await f.pool.withTransaction { connection in
                    let data = EventData.deviceState(DeviceStateChanged(from: "online", to: "backoff", stateReason: nil, reason: "network", decision: nil, nextAttemptAt: nil))
                    try WebhookOutbox.emit(data, tenantID: f.tenant, deviceID: start.device.id, at: Date(), on: connection)
                    throw Failure()
                }
            }
            #expect(try await f.events().isEmpty)
            #expect(try await f.deliveries(endpoint).isEmpty)
            // The stream's sequence rolled back with it: the next event is still number 1.
            _ = try await f.pool.withTransaction { connection in
                try WebhookOutbox.emit(.deviceState(DeviceStateChanged(from: "a", to: "b", stateReason: nil, reason: "r", decision: nil, nextAttemptAt: nil)),
                                       tenantID: f.tenant, deviceID: start.device.id, at: Date(), on: connection)
            }
            #expect(try await f.events().map(\.sequence) == [1])
        }
    }

    @Test func codesAndTheEndOfAPairingAreEventsOnceEach() async throws {
        try await withFixture { f in
            try await f.endpoint([.pairingUpdated, .pairingEnded])
            let start = try await startPairing(f)
            let expiry = Date().addingTimeInterval(60)
            try await f.store.noteCodeIssued(pairingID: start.pairingID, lease: start.lease, expiresAt: expiry)
            try await f.store.noteCodeIssued(pairingID: start.pairingID, lease: start.lease, expiresAt: expiry.addingTimeInterval(20))
            try await f.store.endPairing(start.pairingID, lease: start.lease, outcome: .paired, detail: nil)
            try await f.store.endPairing(start.pairingID, lease: start.lease, outcome: .failed, detail: "late")
            let events = try await f.events()
            #expect(events.map(\.type) == ["pairing.updated", "pairing.updated", "pairing.ended"])
            guard case .pairingUpdated(let second) = events[1].event.data else { return }
            #expect(second.sequence == 2)
            #expect(second.pairingID == start.pairingID)
            #expect(abs(second.pairingExpiresAt.timeIntervalSince(start.deadline)) < 0.001)
            #expect(abs(second.expiresAt.timeIntervalSince(expiry.addingTimeInterval(20))) < 0.001)
            #expect(events[2].event.data == .pairingEnded(PairingEnded(pairingID: start.pairingID, method: .qr, outcome: .paired, detail: nil)))
        }
    }

    @Test func theSweeperEndsADeadInstancesPairingWithItsTransitionAndItsEnd() async throws {
        try await withFixture { f in
            try await f.endpoint()
            let start = try await f.store.beginPairing(
                tenantID: f.tenant, deviceID: nil, name: nil, method: .code, owner: "dead", leaseTTL: .zero, window: .zero
            )
            try await f.store.recordTransition(start.lease, .init(from: .unpaired, to: .pairing(.code), reason: "pair_requested"), instance: "dead")
            #expect(try await f.store.interruptExpiredPairings(instance: "sweeper") == 1)
            let events = try await f.events()
            #expect(events.map(\.type) == ["device.state", "device.state", "pairing.ended"])
            if case .deviceState(let released) = events[1].event.data {
                #expect((released.from, released.to, released.reason) == ("pairing", "unpaired", "pairing_interrupted"))
            }
            if case .pairingEnded(let ended) = events[2].event.data {
                #expect((ended.outcome, ended.method) == (.interrupted, .code))
            }
            #expect(try await f.store.interruptExpiredPairings(instance: "sweeper") == 0)
            #expect(try await f.events().count == 3)
        }
    }

    @Test func aDisabledEndpointGetsNothingAndReplayQueuesBehindWhatIsPending() async throws {
        try await withFixture { f in
            let endpoint = try await f.endpoint([.deviceState])
            _ = try await f.webhooks.updateEndpoint(endpoint, tenantID: f.tenant, changes: .init(enabled: false), now: Date())
            let start = try await startPairing(f)
            try await f.store.recordTransition(start.lease, .init(from: .unpaired, to: .pairing(.qr), reason: "pair_requested"), instance: "a")
            #expect(try await f.deliveries(endpoint).isEmpty)
            #expect(try await f.webhooks.replay(endpointID: endpoint, tenantID: f.tenant, from: .since(.distantPast), limit: 100) == .endpointDisabled)
            _ = try await f.webhooks.updateEndpoint(endpoint, tenantID: f.tenant, changes: .init(enabled: true), now: Date())
            try await f.store.recordTransition(start.lease, .init(from: .pairing(.qr), to: .paired, reason: "paired"), instance: "a")
            #expect(try await f.deliveries(endpoint).map(\.head) == [true])
            // Both events again: they queue behind the pending one, in order.
            let first = try await f.events()[0].event.id
            #expect(try await f.webhooks.replay(endpointID: endpoint, tenantID: f.tenant, from: .since(.distantPast), limit: 100)
                    == .replayed(count: 2, lastEventID: try await f.events()[1].event.id))
            #expect(try await f.deliveries(endpoint).map(\.head) == [true, false, false])
            #expect(try await f.webhooks.replay(endpointID: endpoint, tenantID: f.tenant, from: .afterEvent(first), limit: 100)
                    == .replayed(count: 1, lastEventID: try await f.events()[1].event.id))
            #expect(try await f.webhooks.replay(endpointID: endpoint, tenantID: f.tenant, from: .afterEvent(EventID.lowerBound(at: Date())), limit: 100)
                    == .eventNotFound)
            #expect(try await f.webhooks.replay(endpointID: UUID(), tenantID: f.tenant, from: .since(Date()), limit: 100) == .endpointNotFound)
        }
    }

    @Test func theBacklogIsTheOldestUnfinishedDeliveryPerTenantAndRetentionKeepsWhatIsUnfinished() async throws {
        try await withFixture { f in
            let endpoint = try await f.endpoint([.deviceState])
            let start = try await startPairing(f)
            #expect(try await f.webhooks.oldestUndelivered(now: Date()) == [f.tenant: .zero])
            try await f.store.recordTransition(start.lease, .init(from: .unpaired, to: .pairing(.qr), reason: "pair_requested"), instance: "a")
            try await f.store.recordTransition(start.lease, .init(from: .pairing(.qr), to: .paired, reason: "paired"), instance: "a")
            let later = Date().addingTimeInterval(600)
            let age = try #require(try await f.webhooks.oldestUndelivered(now: later)[f.tenant])
            #expect(age > .seconds(590) && age < .seconds(610))
            // Deliver the first (as a worker would), keep the second pending; age both past retention.
            let claimed = try await f.webhooks.claim(limit: 10, now: Date(), lease: .seconds(60), claimID: UUID())
            #expect(claimed.count == 1, "only the head of the device's queue is due")
            let finish = try await f.webhooks.finish(claimed[0], attempt: nil, verdict: .delivered, rule: Self.rule, now: Date())
            #expect(finish.recorded)
            #expect(try await f.deliveries(endpoint).map(\.status) == ["delivered", "pending"])
            #expect(try await f.deliveries(endpoint).map(\.head) == [false, true], "the next one is due now")
            let purged = try await f.webhooks.purge(before: Date().addingTimeInterval(3600))
            #expect(purged.deliveries == 1)
            #expect(purged.events == 1, "the second event still has a delivery to make")
            #expect(try await f.deliveries(endpoint).map(\.status) == ["pending"])
            #expect(try await f.events().count == 1)
        }
    }

    @Test func aClaimIsOneWorkersUntilItExpiresAndOnlyItsHolderRecordsTheOutcome() async throws {
        try await withFixture { f in
            let endpoint = try await f.endpoint([.deviceState])
            let start = try await startPairing(f)
            try await f.store.recordTransition(start.lease, .init(from: .unpaired, to: .pairing(.qr), reason: "pair_requested"), instance: "a")
            let now = Date()
            let first = try await f.webhooks.claim(limit: 10, now: now, lease: .seconds(30), claimID: UUID())
            #expect(first.count == 1)
            #expect(try await f.webhooks.claim(limit: 10, now: now.addingTimeInterval(29), lease: .seconds(30), claimID: UUID()).isEmpty)
            let second = try await f.webhooks.claim(limit: 10, now: now.addingTimeInterval(31), lease: .seconds(30), claimID: UUID())
            #expect(second.map(\.attempt) == [2], "the expired claim is taken again, as a new attempt")
            #expect(try await !f.webhooks.finish(first[0], attempt: nil, verdict: .delivered, rule: Self.rule, now: now).recorded)
            #expect(try await f.deliveries(endpoint).map(\.status) == ["delivering"])
            #expect(try await f.webhooks.finish(second[0], attempt: nil, verdict: .retry(at: now.addingTimeInterval(100)), rule: Self.rule, now: now).recorded)
            #expect(try await f.webhooks.claim(limit: 10, now: now.addingTimeInterval(99), lease: .seconds(30), claimID: UUID()).isEmpty)
            #expect(try await f.webhooks.claim(limit: 10, now: now.addingTimeInterval(100), lease: .seconds(30), claimID: UUID()).count == 1)
        }
    }
}
