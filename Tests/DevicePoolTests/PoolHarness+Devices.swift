import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient

/// Devices in known states for the ownership tests, and a database that keeps one row locked.
extension PoolHarness {
    /// Pairs a device through the scripted upstream and brings it online; returns it and its login.
    func onlineDevice(jid: String, sessions: inout AsyncStream<ScriptedSession>.Iterator) async throws -> (UUID, ScriptedSession) {
        let ticket = try await supervisor.startPairing(tenantID: tenant, method: .qr)
        let pairing = try #require(await sessions.next())
        _ = await pairing.pairSuccess(jid: jid)
        pairing.emit(.disconnected(DisconnectReason(stage: .stream, category: .restartRequired, code: 515, detail: "restart")))
        let login = try #require(await sessions.next())
        login.emit(.online(OnlineInfo(jid: jid, lid: nil, serverTimeOffset: .zero)))
        try await eventually("online") { try await state(ticket.deviceID) == .online }
        return (ticket.deviceID, login)
    }

    /// A paired device nobody holds, with id `id` (ids order the claim loop) and credentials
    /// sealed by `sealer` (another key than the supervisor's makes them unreadable to it) for
    /// `sealedFor` (another tenant than the device's does too), the device's tenant by default.
    func seedPairedDevice(_ id: UUID, jid: String, sealedBy sealer: CredentialSealer, sealedFor sealedTenant: UUID? = nil) async throws {
        try await pool.query("INSERT INTO devices (id, tenant_id, state, jid) VALUES ($1, $2, 'paired', $3)", [id, tenant, jid])
        var credentials = upstream.newCredentials()
        credentials.account = PairedAccount(jid: jid, lid: nil, platform: "android", businessName: nil, signedIdentity: [1], keyIndex: 1)
        let sealed = try sealer.tenant(sealedTenant ?? tenant).seal(encoding: credentials, deviceID: id, kind: "device")
        try await pool.query("INSERT INTO device_credentials (device_id, kind, key_id, sealed) VALUES ($1, 'device', $2, $3)",
                             [id, sealed.keyID, sealed.bytes])
    }

    /// Moves the clock in small steps until `condition` holds: the boot ramp paces device starts
    /// on the pool's clock.
    func advancing(_ what: String, _ condition: () async throws -> Bool) async throws {
        try await eventually(what, pause: .milliseconds(20)) {
            if try await condition() { return true }
            clock.advance(by: .milliseconds(50))
            return false
        }
    }

    /// The device's lease as stored: owner and epoch.
    func lease(_ device: UUID) async throws -> (owner: String?, epoch: Int64) {
        let record = try #require(try await store.device(device))
        return (record.leaseOwner, record.leaseEpoch)
    }

    /// Runs `body` while another session holds the device's row locked (every statement that
    /// writes the row waits), then lets it go, also when `body` throws.
    func whileRowIsLocked(_ device: UUID, _ body: () async throws -> Void) async throws {
        let held = try await HeldTransaction.begin(url: pool.configuration.url) { connection in
            try connection.query("SELECT 1 FROM devices WHERE id = $1 FOR UPDATE", [device])
        }
        do {
            try await body()
        } catch {
            try await held.commit()
            throw error
        }
        try await held.commit()
    }
}

/// Fixed ids, in claim order.
func deviceID(_ n: Int) -> UUID {
    UUID(uuidString: String(format: "00000000-0000-4000-8000-%012d", n))!
}
