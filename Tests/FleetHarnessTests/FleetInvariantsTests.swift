import DevicePool
import FleetHarness
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

/// The chaos run's verdict is only worth something if the checker can say FAIL: these feed it
/// histories, pairings and simulator figures that break each invariant.
@Suite("Fleet invariants", .requiresDatabase)
struct FleetInvariantsTests {
    /// A migrated database with one tenant and one paired device; `body` gets the pool and the device.
    private func withFleetDatabase(_ body: @Sendable (PostgresPool, UUID, UUID) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant = try await TenantStore(pool: pool).create(name: "Chaos", hosts: ["chaos.example"]).tenant.id
            let device: UUID = try await pool.query(
                "INSERT INTO devices (tenant_id, jid, state) VALUES ($1, '15550001234:1@s.whatsapp.net', 'online') RETURNING id", [tenant]
            )[0].decode(0)
            do {
                try await body(pool, tenant, device)
            } catch {
                await pool.close()
                throw error
            }
            await pool.close()
        }
    }

    private func history(_ pool: PostgresPool, _ device: UUID, _ steps: [(String, String)]) async throws {
        for (from, to) in steps {
            try await pool.query(
                "INSERT INTO state_transitions (device_id, from_state, to_state, reason, instance) VALUES ($1, $2, $3, 'test', 'a')",
                [device, from, to]
            )
        }
    }

    private func calmSimulator(maxConcurrent: Int = 1, logins: Int = 1) -> FleetInvariants.SimulatorView {
        FleetInvariants.SimulatorView(
            maxConcurrentPerDevice: maxConcurrent,
            devicesOverOne: maxConcurrent > 1 ? ["15550001234:1@s.whatsapp.net"] : [],
            loginsByDevice: ["15550001234:1@s.whatsapp.net": logins],
            onlineDevices: ["15550001234:1@s.whatsapp.net"],
            pairingsCompleted: 1
        )
    }

    private func run(_ device: UUID) -> FleetInvariants.RunRecord {
        var run = FleetInvariants.RunRecord()
        run.kept = [.init(deviceID: device, jid: "15550001234:1@s.whatsapp.net")]
        run.pairingsPerformed = 1
        return run
    }

    private func verdicts(_ checks: [FleetInvariants.Check]) -> [String: Bool] {
        Dictionary(uniqueKeysWithValues: checks.map { ($0.name, $0.passed) })
    }

    @Test func anAllowedHistoryWithNothingOpenPassesWhileTheCredentialsCheckNoticesMissingKeys() async throws {
        try await withFleetDatabase { pool, _, device in
            try await history(pool, device, [("unpaired", "pairing"), ("pairing", "paired"), ("paired", "connecting"), ("connecting", "online")])
            let checks = try await FleetInvariants.check(pool: pool, simulator: calmSimulator(), run: run(device))
            let verdict = verdicts(checks)
            #expect(verdict["every history row is an allowed transition"] == true)
            #expect(verdict["no pairing left open"] == true)
            #expect(verdict["one connection per device"] == true)
            #expect(verdict["connection attempts within the reconnect policy"] == true)
            // The fixture's device has no credential rows: exactly what "lost its credentials" means.
            #expect(verdict["no lost credentials, no second scan"] == false)
        }
    }

    @Test func aForbiddenTransitionInTheHistoryFails() async throws {
        try await withFleetDatabase { pool, _, device in
            try await history(pool, device, [("unpaired", "pairing"), ("pairing", "online"), ("logged_out", "connecting")])
            let checks = try await FleetInvariants.check(pool: pool, simulator: calmSimulator(), run: run(device))
            let check = try #require(checks.first { $0.name == "every history row is an allowed transition" })
            #expect(!check.passed)
            #expect(check.detail.contains("pairing → online ×1"))
            #expect(check.detail.contains("logged_out → connecting ×1"))
            #expect(check.line.hasPrefix("FAIL"))
        }
    }

    @Test func anOpenPairingFails() async throws {
        try await withFleetDatabase { pool, tenant, device in
            try await pool.query(
                "INSERT INTO pairing_sessions (tenant_id, device_id, method, instance, deadline) VALUES ($1, $2, 'qr', 'a', now() + interval '3 minutes')",
                [tenant, device]
            )
            let checks = try await FleetInvariants.check(pool: pool, simulator: calmSimulator(), run: run(device))
            let check = try #require(checks.first { $0.name == "no pairing left open" })
            #expect(!check.passed)
            #expect(check.detail == "1 open pairing sessions")
        }
    }

    @Test func twoConcurrentConnectionsOfOneDeviceFail() async throws {
        try await withFleetDatabase { pool, _, device in
            let checks = try await FleetInvariants.check(pool: pool, simulator: calmSimulator(maxConcurrent: 2), run: run(device))
            let check = try #require(checks.first { $0.name == "one connection per device" })
            #expect(!check.passed)
            #expect(check.detail.contains("= 2"))
        }
    }

    @Test func loginsBeyondTheirTriggersFail() async throws {
        try await withFleetDatabase { pool, _, device in
            // One pairing, no fleet event, no reset, one recorded backoff: at most 2 logins.
            try await pool.query(
                "INSERT INTO disconnects (device_id, stage, category, decision, backoff_ms, instance) VALUES ($1, 'stream', 'server_error', 'backoff', 1500, 'a')",
                [device]
            )
            let within = try await FleetInvariants.check(pool: pool, simulator: calmSimulator(logins: 2), run: run(device))
            #expect(verdicts(within)["connection attempts within the reconnect policy"] == true)
            let beyond = try await FleetInvariants.check(pool: pool, simulator: calmSimulator(logins: 3), run: run(device))
            let check = try #require(beyond.first { $0.name == "connection attempts within the reconnect policy" })
            #expect(!check.passed)
            #expect(check.detail.contains("3 logins, bound 2"))
        }
    }

    @Test func aRemovedDeviceThatLoggedInAgainFails() async throws {
        try await withFleetDatabase { pool, _, device in
            try await pool.query("UPDATE devices SET state = 'logged_out' WHERE id = $1", [device])
            var record = FleetInvariants.RunRecord()
            record.removed = [.init(deviceID: device, jid: "15550001234:1@s.whatsapp.net", loginsAtRemoval: 1)]
            record.pairingsPerformed = 1
            let checks = try await FleetInvariants.check(pool: pool, simulator: calmSimulator(logins: 2), run: record)
            let check = try #require(checks.first { $0.name == "removed devices stay logged out" })
            #expect(!check.passed)
            #expect(check.detail.contains("logged in 1 times after its removal"))
        }
    }
}
