import DevicePool
import Foundation
import PostgresClient
import WAClient
import WAWire

/// The device pool's store in PostgreSQL. Every write an owner makes is fenced: it applies only
/// while the device's `lease_epoch` is the one the owner's lease carries. A fence that reads the
/// device row without writing it locks it `FOR SHARE`: a takeover in flight (an epoch bump not yet
/// committed) is waited for and then seen, instead of being read past in the statement's snapshot.
public struct PostgresDeviceStore: DeviceStore {
    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    static let deviceColumns = """
        d.id, d.tenant_id, d.name, d.jid, d.lid, d.platform, d.state, d.state_reason, d.next_attempt_at,
        d.state_since, d.lease_owner, d.lease_expires_at, d.lease_epoch, d.desired_state
        """

    static func device(from row: PostgresRow) throws -> DeviceRecord {
        let kindText: String = try row.decode("state")
        guard let kind = DeviceState.Kind(rawValue: kindText),
              let state = DeviceState(kind: kind, reason: try row.decode("state_reason"), nextAttemptAt: try row.decode("next_attempt_at"))
        else {
            throw PostgresError(.decoding, detail: "device state \(kindText) with its reason cannot be read")
        }
        let desiredText: String = try row.decode("desired_state")
        guard let desired = DesiredState(rawValue: desiredText) else {
            throw PostgresError(.decoding, detail: "desired state \(desiredText) cannot be read")
        }
        return DeviceRecord(
            id: try row.decode("id"),
            tenantID: try row.decode("tenant_id"),
            name: try row.decode("name"),
            jid: try row.decode("jid"),
            lid: try row.decode("lid"),
            platform: try row.decode("platform"),
            state: state,
            stateSince: try row.decode("state_since"),
            leaseOwner: try row.decode("lease_owner"),
            leaseExpiresAt: try row.decode("lease_expires_at"),
            leaseEpoch: try row.decode("lease_epoch"),
            desiredState: desired
        )
    }

    public func device(_ id: UUID) async throws -> DeviceRecord? {
        let rows = try await pool.query("SELECT \(Self.deviceColumns) FROM devices d WHERE d.id = $1", [id])
        return try rows.first.map(Self.device(from:))
    }

    /// The devices of one tenant, oldest first.
    public func devices(tenantID: UUID) async throws -> [DeviceRecord] {
        try await pool.query(
            "SELECT \(Self.deviceColumns) FROM devices d WHERE d.tenant_id = $1 ORDER BY d.created_at, d.id", [tenantID]
        ).map(Self.device(from:))
    }

    // MARK: Pairing sessions

    public func beginPairing(
        tenantID: UUID, deviceID: UUID?, name: String?, method: PairingMethodKind,
        owner: String, leaseTTL: Duration, window: Duration
    ) async throws -> PairingStart {
        do {
            return try await pool.withTransaction { connection in
                let id: UUID
                if let deviceID {
                    let rows = try connection.query(
                        "SELECT id FROM devices WHERE id = $1 AND tenant_id = $2 AND state IN ('unpaired', 'logged_out') FOR UPDATE",
                        [deviceID, tenantID]
                    )
                    guard let row = rows.first else {
                        throw StoreError(.deviceNotPairable, "device \(deviceID.uuidString.lowercased()) is not an unpaired device of this tenant")
                    }
                    id = try row.decode(0)
                } else if let unused = try connection.query("""
                    SELECT id FROM devices
                    WHERE tenant_id = $1 AND state = 'unpaired' AND (lease_expires_at IS NULL OR lease_expires_at < now())
                    ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
                    """, [tenantID]).first {
                    // A tenant's pairings that never link must not grow its devices forever: the
                    // unpaired device no pairing holds is paired again, under the new name.
                    id = try unused.decode(0)
                    try connection.query("UPDATE devices SET name = $2 WHERE id = $1", [id, name])
                } else {
                    id = try connection.query(
                        "INSERT INTO devices (tenant_id, name) VALUES ($1, $2) RETURNING id", [tenantID, name]
                    )[0].decode(0)
                }
                let leased = try connection.query("""
                    UPDATE devices d SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3),
                        lease_epoch = lease_epoch + 1, name = coalesce($4, name), desired_state = 'running'
                    WHERE d.id = $1 AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now() OR d.lease_owner = $2)
                    RETURNING \(Self.deviceColumns)
                    """, [id, owner, leaseTTL.seconds, name])
                guard let row = leased.first else {
                    throw StoreError(.deviceNotPairable, "device \(id.uuidString.lowercased()) is owned by another instance")
                }
                let device = try Self.device(from: row)
                let session = try connection.query("""
                    INSERT INTO pairing_sessions (tenant_id, device_id, method, instance, deadline)
                    VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
                    RETURNING id, deadline
                    """, [tenantID, id, method.rawValue, owner, window.seconds])[0]
                return PairingStart(
                    device: device,
                    lease: Lease(deviceID: id, owner: owner, epoch: device.leaseEpoch),
                    pairingID: try session.decode(0),
                    deadline: try session.decode(1)
                )
            }
        } catch let error as PostgresError where error.constraint == "pairing_sessions_one_open_per_tenant" {
            let active = try await openPairing(tenantID: tenantID)
            throw PairingInProgress(pairingID: active?.id, deviceID: active?.deviceID, expiresAt: active?.deadline)
        }
    }

    public func endPairing(_ pairingID: UUID, lease: Lease, outcome: PairingOutcome, detail: String?) async throws {
        try await fencedPairingWrite(lease) { connection in
            let ended = try connection.query("""
                UPDATE pairing_sessions SET ended_at = now(), outcome = $3, detail = $4
                WHERE id = $1 AND device_id = $2 AND ended_at IS NULL
                RETURNING tenant_id, device_id, method, ended_at
                """, [pairingID, lease.deviceID, outcome.rawValue, detail])
            if let row = ended.first { try Self.emitPairingEnded(row, pairingID: pairingID, outcome: outcome, detail: detail, on: connection) }
        }
    }

    public func noteCodeIssued(pairingID: UUID, lease: Lease, expiresAt: Date) async throws {
        try await fencedPairingWrite(lease) { connection in
            let counted = try connection.query("""
                UPDATE pairing_sessions SET qr_count = qr_count + 1
                WHERE id = $1 AND device_id = $2 AND ended_at IS NULL
                RETURNING tenant_id, device_id, method, qr_count, deadline, now() AS at
                """, [pairingID, lease.deviceID])
            if let row = counted.first { try Self.emitPairingUpdated(row, pairingID: pairingID, expiresAt: expiresAt, on: connection) }
        }
    }

    /// Runs `write` in a transaction only while the lease's epoch is current (the device row
    /// held `FOR SHARE` until the commit); throws `LeaseLost` otherwise. A write that matches no
    /// session (already ended) is not a lost lease.
    private func fencedPairingWrite(_ lease: Lease, _ write: @escaping @Sendable (PostgresConnection) throws -> Void) async throws {
        let fenced = try await pool.withTransaction { connection in
            let owned = try connection.query(
                "SELECT 1 FROM devices WHERE id = $1 AND lease_epoch = $2 FOR SHARE", [lease.deviceID, lease.epoch]
            )
            guard !owned.isEmpty else { return false }
            try write(connection)
            return true
        }
        if !fenced { throw LeaseLost(deviceID: lease.deviceID) }
    }

    static let pairingColumns = "id, tenant_id, device_id, method, instance, started_at, deadline, ended_at, outcome, detail, qr_count"

    static func pairing(from row: PostgresRow) throws -> PairingRecord {
        PairingRecord(
            id: try row.decode("id"),
            tenantID: try row.decode("tenant_id"),
            deviceID: try row.decode("device_id"),
            method: PairingMethodKind(rawValue: try row.decode("method")) ?? .qr,
            instance: try row.decode("instance"),
            startedAt: try row.decode("started_at"),
            deadline: try row.decode("deadline"),
            endedAt: try row.decode("ended_at"),
            outcome: try row.decode("outcome", as: String?.self).flatMap(PairingOutcome.init(rawValue:)),
            detail: try row.decode("detail"),
            qrCount: try row.decode("qr_count")
        )
    }

    public func openPairing(tenantID: UUID) async throws -> PairingRecord? {
        try await pool.query(
            "SELECT \(Self.pairingColumns) FROM pairing_sessions WHERE tenant_id = $1 AND ended_at IS NULL", [tenantID]
        ).first.map(Self.pairing(from:))
    }

    /// One pairing session by id.
    public func pairing(_ id: UUID) async throws -> PairingRecord? {
        try await pool.query("SELECT \(Self.pairingColumns) FROM pairing_sessions WHERE id = $1", [id]).first.map(Self.pairing(from:))
    }

    public func interruptExpiredPairings(instance: String) async throws -> Int {
        try await pool.withTransaction { connection in
            let ended = try connection.query("""
                WITH ended AS (
                    UPDATE pairing_sessions SET ended_at = now(), outcome = 'interrupted',
                        detail = 'the instance running it stopped before the pairing ended'
                    WHERE ended_at IS NULL AND deadline < now()
                    RETURNING id, tenant_id, device_id, method, ended_at, detail
                ), released AS (
                    UPDATE devices d SET state = 'unpaired', state_reason = NULL, next_attempt_at = NULL,
                        state_since = now(), lease_owner = NULL, lease_expires_at = NULL, lease_epoch = d.lease_epoch + 1
                    FROM ended
                    WHERE d.id = ended.device_id AND d.state = 'pairing'
                      AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
                    RETURNING d.id, d.lease_epoch, d.state_reason
                ), history AS (
                    INSERT INTO state_transitions (device_id, from_state, to_state, reason, instance, lease_epoch)
                    SELECT id, 'pairing', 'unpaired', 'pairing_interrupted', $1, lease_epoch FROM released
                    RETURNING device_id
                ), wiped AS (
                    DELETE FROM device_credentials c USING released WHERE c.device_id = released.id AND c.kind <> $2
                )
                SELECT ended.*, history.device_id IS NOT NULL AS released
                FROM ended LEFT JOIN history ON history.device_id = ended.device_id
                ORDER BY ended.device_id
                """, [instance, DeviceProxy.credentialKind])
            for row in ended { try Self.emitInterruptedPairing(row, on: connection) }
            return ended.count
        }
    }

    // MARK: Leases

    public func acquireLease(deviceID: UUID, owner: String, ttl: Duration) async throws -> (DeviceRecord, Lease)? {
        let rows = try await pool.query("""
            UPDATE devices d SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3),
                lease_epoch = lease_epoch + 1
            WHERE d.id = $1 AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now() OR d.lease_owner = $2)
            RETURNING \(Self.deviceColumns)
            """, [deviceID, owner, ttl.seconds])
        guard let row = rows.first else { return nil }
        let device = try Self.device(from: row)
        return (device, Lease(deviceID: deviceID, owner: owner, epoch: device.leaseEpoch))
    }

    public func renewLeases(_ leases: [Lease], ttl: Duration) async throws -> Set<UUID> {
        guard let owner = leases.first?.owner else { return [] }
        let rows = try await pool.query("""
            UPDATE devices d SET lease_expires_at = now() + make_interval(secs => $3)
            FROM unnest($1::uuid[], $2::int8[]) AS held(id, epoch)
            WHERE d.id = held.id AND d.lease_epoch = held.epoch AND d.lease_owner = $4
            RETURNING d.id
            """, [PostgresArray(leases.map(\.deviceID)), PostgresArray(leases.map(\.epoch)), ttl.seconds, owner])
        return Set(try rows.map { try $0.decode(0, as: UUID.self) })
    }

    public func releaseLease(_ lease: Lease) async throws {
        try await pool.query(
            "UPDATE devices SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_epoch = $2 AND lease_owner = $3",
            [lease.deviceID, lease.epoch, lease.owner]
        )
    }

    public func claimableDevices(after: UUID?, limit: Int) async throws -> [UUID] {
        try await pool.query("""
            SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id
            WHERE d.state IN ('paired', 'connecting', 'online', 'backoff', 'suspended') AND d.desired_state = 'running'
              AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
              AND t.disabled_at IS NULL
              AND ($1::uuid IS NULL OR d.id > $1::uuid)
            ORDER BY d.id
            LIMIT $2
            """, [after, limit]).map { try $0.decode(0) }
    }

    // MARK: Fenced writes

    public func recordTransition(_ lease: Lease, _ transition: DeviceStateMachine.Transition, instance: String) async throws {
        let to = transition.to
        let moved: Bool = try await pool.withTransaction { connection in
            let rows = try connection.query("""
                WITH moved AS (
                    UPDATE devices SET state = $3, state_reason = $4, next_attempt_at = $5, state_since = now()
                    WHERE id = $1 AND lease_epoch = $2
                    RETURNING id, tenant_id, jid
                ), history AS (
                    INSERT INTO state_transitions (device_id, from_state, to_state, reason, instance, lease_epoch)
                    SELECT id, $6, $3, $7, $8, $2 FROM moved
                    RETURNING at
                )
                SELECT moved.tenant_id, moved.jid, history.at FROM moved, history
                """, [lease.deviceID, lease.epoch, to.kind.rawValue, to.reason, to.nextAttemptAt,
                      transition.from.kind.rawValue, transition.reason, instance])
            guard let row = rows.first else { return false }
            try Self.emitTransition(transition, deviceID: lease.deviceID, row: row, on: connection)
            return true
        }
        if !moved { throw LeaseLost(deviceID: lease.deviceID) }
    }

    public func recordDisconnect(_ lease: Lease, reason: DisconnectReason, decision: ReconnectPolicy.Decision, instance: String) async throws {
        var backoff: Int64?
        if case .backoff(let delay, _) = decision { backoff = Int64(delay.seconds * 1000) }
        let rows = try await pool.query("""
            INSERT INTO disconnects (device_id, stage, code, category, detail, decision, backoff_ms, instance)
            SELECT id, $3, $4, $5, $6, $7, $8, $9 FROM devices WHERE id = $1 AND lease_epoch = $2 FOR SHARE
            RETURNING id
            """, [lease.deviceID, lease.epoch, reason.stage.rawValue, reason.code.map(Int64.init), reason.category.rawValue,
                  reason.detail, decision.description, backoff, instance])
        if rows.isEmpty { throw LeaseLost(deviceID: lease.deviceID) }
    }

    public func saveCredentials(_ lease: Lease, kind: String, sealed: SealedCredential) async throws {
        let rows = try await pool.query("""
            INSERT INTO device_credentials (device_id, kind, key_id, sealed)
            SELECT id, $3, $4, $5 FROM devices WHERE id = $1 AND lease_epoch = $2 FOR SHARE
            ON CONFLICT (device_id, kind) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, updated_at = now()
            RETURNING device_id
            """, [lease.deviceID, lease.epoch, kind, sealed.keyID, sealed.bytes])
        if rows.isEmpty { throw LeaseLost(deviceID: lease.deviceID) }
    }

    public func saveAccount(_ lease: Lease, jid: String?, lid: String?, platform: String?) async throws {
        let rows = try await pool.query("""
            UPDATE devices SET jid = coalesce($3, jid), lid = coalesce($4, lid), platform = coalesce($5, platform)
            WHERE id = $1 AND lease_epoch = $2 RETURNING id
            """, [lease.deviceID, lease.epoch, jid, lid, platform])
        if rows.isEmpty { throw LeaseLost(deviceID: lease.deviceID) }
    }

    public func wipeCredentials(_ lease: Lease) async throws {
        let fenced: Bool = try await pool.withTransaction { connection in
            let owned = try connection.query("SELECT 1 FROM devices WHERE id = $1 AND lease_epoch = $2 FOR UPDATE", [lease.deviceID, lease.epoch])
            guard !owned.isEmpty else { return false }
            // The proxy is the tenant's setting, not a credential of the link: it stays.
            try connection.query("DELETE FROM device_credentials WHERE device_id = $1 AND kind <> $2", [lease.deviceID, DeviceProxy.credentialKind])
            try Self.deleteProtocolState(deviceID: lease.deviceID, on: connection)
            try Self.failQueue(deviceID: lease.deviceID, reason: "logged_out", on: connection)
            try connection.query("UPDATE devices SET jid = NULL, lid = NULL WHERE id = $1", [lease.deviceID])
            return true
        }
        if !fenced { throw LeaseLost(deviceID: lease.deviceID) }
    }

    public func loadCredentials(deviceID: UUID, kind: String) async throws -> SealedCredential? {
        try await pool.query(
            "SELECT key_id, sealed FROM device_credentials WHERE device_id = $1 AND kind = $2", [deviceID, kind]
        ).first.map { SealedCredential(keyID: try $0.decode(0), bytes: try $0.decode(1)) }
    }

    // MARK: Key rotation

    /// Re-seals every credential row not sealed under `sealer.current` in the current format
    /// (`pairgate keys rotate`); returns how many were re-sealed and the rows that could not be
    /// opened with the configured keys for their device and its tenant.
    public func resealAll(with sealer: CredentialSealer, batchSize: Int = 500) async throws -> (resealed: Int, unreadable: [(deviceID: UUID, kind: String, keyID: String)]) {
        var resealed = 0
        var unreadable: [(deviceID: UUID, kind: String, keyID: String)] = []
        // Every row is read, paged by (device, kind): whether a row under the current key is in
        // the current format is known only by opening it (SealedFormat), and rows that cannot be
        // opened stay as they are, so "the first rows still to do" would return them forever.
        var cursor: (deviceID: UUID, kind: String)?
        while true {
            let batch = try await sealedCredentials(after: cursor, limit: batchSize)
            for row in batch {
                cursor = (row.deviceID, row.kind)
                do {
                    guard let fresh = try sealer.tenant(row.tenantID).reseal(row.sealed, deviceID: row.deviceID, kind: row.kind) else { continue }
                    if try await replaceSealed(deviceID: row.deviceID, kind: row.kind, from: row.sealed, to: fresh) {
                        resealed += 1
                    }
                } catch is SealingError {
                    unreadable.append((row.deviceID, row.kind, row.sealed.keyID))
                }
            }
            if batch.count < batchSize { break }
        }
        return (resealed, unreadable)
    }

    /// Sealed credential rows with their device's tenant, by (device, kind) after `after`, for
    /// `pairgate keys rotate`.
    public func sealedCredentials(
        after: (deviceID: UUID, kind: String)?, limit: Int
    ) async throws -> [(deviceID: UUID, tenantID: UUID, kind: String, sealed: SealedCredential)] {
        try await pool.query("""
            SELECT c.device_id, d.tenant_id, c.kind, c.key_id, c.sealed
            FROM device_credentials c JOIN devices d ON d.id = c.device_id
            WHERE $1::uuid IS NULL OR (c.device_id, c.kind) > ($1::uuid, $2::text)
            ORDER BY c.device_id, c.kind LIMIT $3
            """, [after?.deviceID, after?.kind, limit]
        ).map { (try $0.decode(0), try $0.decode(1), try $0.decode(2), SealedCredential(keyID: try $0.decode(3), bytes: try $0.decode(4))) }
    }

    /// Replaces one sealed row if it is still the one that was read (no lease: rotation is an
    /// operator task and must not race an owner's write of newer credentials).
    public func replaceSealed(deviceID: UUID, kind: String, from old: SealedCredential, to new: SealedCredential) async throws -> Bool {
        try await !pool.query("""
            UPDATE device_credentials SET key_id = $5, sealed = $6, updated_at = now()
            WHERE device_id = $1 AND kind = $2 AND key_id = $3 AND sealed = $4
            RETURNING device_id
            """, [deviceID, kind, old.keyID, old.bytes, new.keyID, new.bytes]).isEmpty
    }
}
