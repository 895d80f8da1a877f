import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

/// Sealed rows bound to their tenant (format v2): `pairgate keys rotate` upgrades the v1 rows
/// written before the binding, and a row moved to another tenant's device, endpoint or tenant does
/// not open and is reported rather than re-sealed into its new place.
@Suite("Sealed rows bound to their tenant", .requiresDatabase)
struct SealedFormatTests {
    @Test func keysRotateUpgradesEveryKindOfV1RowToTheTenantBoundFormat() async throws {
        try await withTenants { pool, acme, beta in
            try await Self.insertV1Rows(pool, tenant: acme)
            let store = PostgresDeviceStore(pool: pool), webhooks = WebhookStore(pool: pool)
            let before = try await Self.sealedRows(pool)
            #expect(before.count == 8)

            // The key stays the same: only the format changes.
            let sealer = CredentialSealer(current: SealedV1Fixtures.key)
            let credentials = try await store.resealAll(with: sealer)
            let signal = try await store.resealProtocolState(with: sealer, batchSize: 2)
            let endpoints = try await webhooks.resealAll(with: sealer)
            #expect(credentials.resealed == 2 && credentials.unreadable.isEmpty)
            #expect(signal.resealed == 4 && signal.unreadable.isEmpty)
            #expect(endpoints.resealed == 1 && endpoints.unreadable.isEmpty)

            let after = try await Self.sealedRows(pool)
            #expect(after.count == before.count)
            for (row, sealed) in after {
                #expect(sealed.keyID == SealedV1Fixtures.key.id)
                #expect(sealed != before.first { $0.row.kind == row.kind }?.sealed, "\(row.kind) re-sealed")
                #expect(try sealer.tenant(acme).open(sealed, deviceID: row.ownerID, kind: row.kind) == row.plaintext, "\(row.kind)")
                // Now bound to the tenant: the same row does not open for another.
                #expect(throws: SealingError(.tampered), "\(row.kind)") { try sealer.tenant(beta).open(sealed, deviceID: row.ownerID, kind: row.kind) }
            }
            // The read paths open the upgraded rows.
            let proxy = try #require(try await store.loadCredentials(deviceID: SealedV1Fixtures.deviceID, kind: DeviceProxy.credentialKind))
            #expect(try sealer.tenant(acme).open(proxy, deviceID: SealedV1Fixtures.deviceID, kind: DeviceProxy.credentialKind) == SealedV1Fixtures.proxy.plaintext)
            let endpoint = try #require(try await webhooks.endpoint(SealedV1Fixtures.endpointID, tenantID: acme))
            let previous = try #require(endpoint.previousSecret)
            #expect(try sealer.tenant(acme).open(previous, deviceID: endpoint.id, kind: WebhookStore.secretKind) == SealedV1Fixtures.webhookSecret.plaintext)

            // A second run finds nothing to do.
            #expect(try await store.resealAll(with: sealer).resealed == 0)
            #expect(try await store.resealProtocolState(with: sealer).resealed == 0)
            #expect(try await webhooks.resealAll(with: sealer).resealed == 0)
            #expect(try await Self.sealedRows(pool).map(\.sealed) == after.map(\.sealed))

            // A key rotation afterwards keeps the binding.
            let next = try MasterKey(parsing: MasterKey.generate(id: "next"))
            let rotated = CredentialSealer(current: next, previous: [SealedV1Fixtures.key])
            #expect(try await store.resealAll(with: rotated).resealed == 2)
            #expect(try await store.resealProtocolState(with: rotated).resealed == 4)
            #expect(try await webhooks.resealAll(with: rotated).resealed == 1)
            for (row, sealed) in try await Self.sealedRows(pool) {
                #expect(sealed.keyID == "next")
                #expect(try CredentialSealer(current: next).tenant(acme).open(sealed, deviceID: row.ownerID, kind: row.kind) == row.plaintext)
            }
        }
    }

    @Test func aRowMovedToAnotherTenantDoesNotOpenAndRotationReportsIt() async throws {
        try await withTenants { pool, acme, beta in
            let key = try MasterKey(parsing: MasterKey.generate(id: "k1"))
            let sealer = CredentialSealer(current: key)
            let (acmeDevice, betaDevice, movedDevice) = (UUID(), UUID(), UUID())
            for (device, tenant) in [(acmeDevice, acme), (betaDevice, beta), (movedDevice, acme)] {
                try await pool.query("INSERT INTO devices (id, tenant_id, state) VALUES ($1, $2, 'paired')", [device, tenant])
                let sealed = try sealer.tenant(tenant).seal(Array("keys of \(device)".utf8), deviceID: device, kind: "device")
                try await pool.query("INSERT INTO device_credentials (device_id, kind, key_id, sealed) VALUES ($1, 'device', $2, $3)",
                                     [device, sealed.keyID, sealed.bytes])
                let session = try sealer.tenant(tenant).seal([1, 2, 3], deviceID: device, kind: "signal-session:15550001111:0")
                try await pool.query("INSERT INTO signal_sessions (device_id, name, device, key_id, sealed) VALUES ($1, '15550001111', 0, $2, $3)",
                                     [device, session.keyID, session.bytes])
            }
            // Acme's rows copied onto Beta's device, and a whole device moved from Acme to Beta.
            for table in ["device_credentials", "signal_sessions"] {
                try await pool.query("UPDATE \(table) b SET sealed = a.sealed FROM \(table) a WHERE a.device_id = $1 AND b.device_id = $2",
                                     [acmeDevice, betaDevice])
            }
            try await pool.query("UPDATE devices SET tenant_id = $2 WHERE id = $1", [movedDevice, beta])
            let endpoint = UUID()
            let secret = try sealer.tenant(acme).seal(Array("whsec".utf8), deviceID: endpoint, kind: WebhookStore.secretKind)
            try await pool.query("""
                INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret_key_id, secret_sealed)
                VALUES ($1, $2, 'https://hooks.example/in', ARRAY['device.state'], $3, $4)
                """, [endpoint, beta, secret.keyID, secret.bytes])

            // On the read path: a clear error, not a crash and not the other tenant's keys.
            let store = PostgresDeviceStore(pool: pool)
            let copied = try #require(try await store.loadCredentials(deviceID: betaDevice, kind: "device"))
            let error = #expect(throws: SealingError.self) { try sealer.tenant(beta).open(copied, deviceID: betaDevice, kind: "device") }
            #expect(error?.code == .tampered)
            #expect(error?.description.contains("another tenant") == true)

            // Rotation re-seals what belongs where it is, and reports the rest untouched: a moved
            // row is never re-sealed into its new tenant.
            let next = CredentialSealer(current: try MasterKey(parsing: MasterKey.generate(id: "k2")), previous: [key])
            let credentials = try await store.resealAll(with: next)
            #expect(credentials.resealed == 1)
            #expect(Set(credentials.unreadable.map(\.deviceID)) == [betaDevice, movedDevice])
            let signal = try await store.resealProtocolState(with: next)
            #expect(signal.resealed == 1)
            #expect(Set(signal.unreadable.map(\.deviceID)) == [betaDevice, movedDevice])
            let webhooks = try await WebhookStore(pool: pool).resealAll(with: next)
            #expect(webhooks.resealed == 0)
            #expect(webhooks.unreadable.map(\.endpointID) == [endpoint])
            for device in [betaDevice, movedDevice] {
                #expect(try await store.loadCredentials(deviceID: device, kind: "device")?.keyID == "k1")
            }
        }
    }

    /// A migrated database with two tenants.
    private func withTenants(_ body: (PostgresPool, UUID, UUID) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenants = TenantStore(pool: pool)
            let acme = try await tenants.create(name: "Acme", hosts: ["acme.example"]).tenant.id
            let beta = try await tenants.create(name: "Beta", hosts: ["beta.example"]).tenant.id
            try await body(pool, acme, beta)
            await pool.close()
        }
    }

    /// Every v1 fixture in its table, for a device and an endpoint of `tenant` (the endpoint's
    /// previous secret is a copy of its secret).
    private static func insertV1Rows(_ pool: PostgresPool, tenant: UUID) async throws {
        let fixtures = SealedV1Fixtures.self
        try await pool.query("INSERT INTO devices (id, tenant_id, state) VALUES ($1, $2, 'paired')", [fixtures.deviceID, tenant])
        for row in [fixtures.credentials, fixtures.proxy] {
            try await pool.query("INSERT INTO device_credentials (device_id, kind, key_id, sealed) VALUES ($1, $2, $3, $4)",
                                 [row.ownerID, row.kind, row.sealed.keyID, row.sealed.bytes])
        }
        for (row, name) in [(fixtures.session, "15550001111"), (fixtures.sessionLikeV2, "15550002222")] {
            try await pool.query("INSERT INTO signal_sessions (device_id, name, device, key_id, sealed) VALUES ($1, $2, 0, $3, $4)",
                                 [row.ownerID, name, row.sealed.keyID, row.sealed.bytes])
        }
        try await pool.query("""
            INSERT INTO signal_identities (device_id, name, device, key_id, sealed, fingerprint) VALUES ($1, '15550001111', 0, $2, $3, 'f')
            """, [fixtures.deviceID, fixtures.identity.sealed.keyID, fixtures.identity.sealed.bytes])
        try await pool.query("""
            INSERT INTO signal_sender_keys (device_id, group_jid, sender_name, sender_device, key_id, sealed)
            VALUES ($1, '120363000000000001@g.us', '15550001111', 0, $2, $3)
            """, [fixtures.deviceID, fixtures.senderKey.sealed.keyID, fixtures.senderKey.sealed.bytes])
        let secret = fixtures.webhookSecret.sealed
        try await pool.query("""
            INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret_key_id, secret_sealed,
                                           previous_key_id, previous_sealed, previous_expires_at)
            VALUES ($1, $2, 'https://hooks.example/in', ARRAY['device.state'], $3, $4, $3, $4, now() + interval '1 day')
            """, [fixtures.endpointID, tenant, secret.keyID, secret.bytes])
    }

    /// Every sealed row of the database with the fixture it came from, in a fixed order.
    private static func sealedRows(_ pool: PostgresPool) async throws -> [(row: SealedV1Fixtures.Row, sealed: SealedCredential)] {
        let fixtures = SealedV1Fixtures.self
        let rows = try await pool.query("""
            SELECT kind, key_id, sealed FROM device_credentials
            UNION ALL SELECT 'signal-session:' || name || ':' || device, key_id, sealed FROM signal_sessions
            UNION ALL SELECT 'signal-identity:' || name || ':' || device, key_id, sealed FROM signal_identities
            UNION ALL SELECT 'signal-sender-key:' || group_jid || '|' || sender_name || ':' || sender_device, key_id, sealed FROM signal_sender_keys
            UNION ALL SELECT 'webhook-secret', secret_key_id, secret_sealed FROM webhook_endpoints
            UNION ALL SELECT 'webhook-secret', previous_key_id, previous_sealed FROM webhook_endpoints WHERE previous_sealed IS NOT NULL
            ORDER BY 1, 3
            """)
        return try rows.map { row in
            let kind: String = try row.decode(0)
            let fixture = try #require(fixtures.all.first { $0.kind == kind }, "\(kind)")
            return (fixture, SealedCredential(keyID: try row.decode(1), bytes: try row.decode(2)))
        }
    }
}
