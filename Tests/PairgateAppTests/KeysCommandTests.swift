import DevicePool
import FleetHarness
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

/// The real `pairgate keys rotate` on a database with rows sealed before the tenant binding:
/// the upgrade to the tenant-bound format is this command, run with the key it needs.
@Suite("pairgate keys rotate", .requiresDatabase, .timeLimit(.minutes(2)))
struct KeysCommandTests {
    @Test func rotateUpgradesV1RowsOnceAndNamesTheRowsItCannotOpen() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenants = TenantStore(pool: pool)
            let acme = try await tenants.create(name: "Acme", hosts: ["acme.example"]).tenant.id
            let beta = try await tenants.create(name: "Beta", hosts: ["beta.example"]).tenant.id
            let fixtures = SealedV1Fixtures.self
            try await pool.query("INSERT INTO devices (id, tenant_id, state) VALUES ($1, $2, 'paired')", [fixtures.deviceID, acme])
            for row in [fixtures.credentials, fixtures.proxy] {
                try await pool.query("INSERT INTO device_credentials (device_id, kind, key_id, sealed) VALUES ($1, $2, $3, $4)",
                                     [row.ownerID, row.kind, row.sealed.keyID, row.sealed.bytes])
            }
            let key = "legacy:" + Data(repeating: 0x5a, count: 32).base64EncodedString()
            func rotate() async throws -> (status: Int32, output: String) {
                try await SpawnedProcess.run(try PipedChild.executable(), ["keys", "rotate", "--database-url", database.url], environment: [
                    "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "PAIRGATE_CREDENTIALS_MASTER_KEY": key,
                ])
            }

            let first = try await rotate()
            #expect(first.status == 0, "\(first.output)")
            #expect(first.output.contains("re-sealed 2 credential and Signal rows and 0 webhook secrets under key legacy, format v2"), "\(first.output)")
            let sealed = try #require(try await PostgresDeviceStore(pool: pool).loadCredentials(deviceID: fixtures.deviceID, kind: "device"))
            let sealer = CredentialSealer(current: fixtures.key)
            #expect(try sealer.tenant(acme).open(sealed, deviceID: fixtures.deviceID, kind: "device") == fixtures.credentials.plaintext)
            #expect(throws: SealingError(.tampered)) { try sealer.tenant(beta).open(sealed, deviceID: fixtures.deviceID, kind: "device") }

            let second = try await rotate()
            #expect(second.status == 0, "\(second.output)")
            #expect(second.output.contains("re-sealed 0 credential and Signal rows"), "\(second.output)")

            // The device moved to another tenant by hand: its rows no longer open, and the command
            // says which, and fails.
            try await pool.query("UPDATE devices SET tenant_id = $2 WHERE id = $1", [fixtures.deviceID, beta])
            let moved = try await rotate()
            #expect(moved.status != 0, "\(moved.output)")
            let id = fixtures.deviceID.uuidString.lowercased()
            #expect(moved.output.contains("cannot open device \(id) device (key legacy): the key is not configured, or the row was altered or moved"), "\(moved.output)")
            #expect(moved.output.contains("cannot open device \(id) proxy (key legacy)"), "\(moved.output)")
            await pool.close()
        }
    }
}
