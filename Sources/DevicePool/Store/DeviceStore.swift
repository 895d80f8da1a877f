import Foundation
import Messaging
import WAClient

/// A device as stored.
public struct DeviceRecord: Sendable, Hashable {
    public var id: UUID
    public var tenantID: UUID
    public var name: String?
    public var jid: String?
    public var lid: String?
    public var platform: String?
    public var state: DeviceState
    public var stateSince: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var leaseEpoch: Int64
    public var desiredState: DesiredState

    public init(
        id: UUID, tenantID: UUID, name: String?, jid: String?, lid: String?, platform: String?,
        state: DeviceState, stateSince: Date, leaseOwner: String?, leaseExpiresAt: Date?, leaseEpoch: Int64,
        desiredState: DesiredState = .running
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.jid = jid
        self.lid = lid
        self.platform = platform
        self.state = state
        self.stateSince = stateSince
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.leaseEpoch = leaseEpoch
        self.desiredState = desiredState
    }
}

/// Proof of owning a device for a while: every write by the owner is conditional on `epoch`,
/// so an owner that lost the lease (paused, partitioned, killed) can no longer write.
public struct Lease: Sendable, Hashable {
    public var deviceID: UUID
    public var owner: String
    public var epoch: Int64

    public init(deviceID: UUID, owner: String, epoch: Int64) {
        self.deviceID = deviceID
        self.owner = owner
        self.epoch = epoch
    }
}

/// A fenced write found a newer epoch: another instance owns the device now.
public struct LeaseLost: Error, Sendable, Hashable, CustomStringConvertible {
    public var deviceID: UUID
    public init(deviceID: UUID) { self.deviceID = deviceID }
    public var description: String { "lease lost for device \(deviceID.uuidString.lowercased())" }
}

/// A started pairing: the device it pairs, the lease it holds, the session row.
public struct PairingStart: Sendable {
    public var device: DeviceRecord
    public var lease: Lease
    public var pairingID: UUID
    public var deadline: Date

    public init(device: DeviceRecord, lease: Lease, pairingID: UUID, deadline: Date) {
        self.device = device
        self.lease = lease
        self.pairingID = pairingID
        self.deadline = deadline
    }
}

/// An open or ended pairing session.
public struct PairingRecord: Sendable, Hashable {
    public var id: UUID
    public var tenantID: UUID
    public var deviceID: UUID
    public var method: PairingMethodKind
    public var instance: String
    public var startedAt: Date
    public var deadline: Date
    public var endedAt: Date?
    public var outcome: PairingOutcome?
    public var detail: String?
    public var qrCount: Int

    public init(
        id: UUID, tenantID: UUID, deviceID: UUID, method: PairingMethodKind, instance: String, startedAt: Date,
        deadline: Date, endedAt: Date?, outcome: PairingOutcome?, detail: String?, qrCount: Int
    ) {
        self.id = id
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.method = method
        self.instance = instance
        self.startedAt = startedAt
        self.deadline = deadline
        self.endedAt = endedAt
        self.outcome = outcome
        self.detail = detail
        self.qrCount = qrCount
    }
}

/// Where the device pool keeps devices, leases, sealed credentials, pairings and history. The
/// pool knows nothing of SQL; PostgresStore implements this over libpq.
public protocol DeviceStore: Sendable {
    func device(_ id: UUID) async throws -> DeviceRecord?

    /// Creates (or reuses an unpaired/logged-out `deviceID` of the tenant) a device, takes its
    /// lease and opens the tenant's pairing session — all or nothing. Throws `PairingInProgress`
    /// when the tenant already has an open session anywhere in the fleet.
    func beginPairing(
        tenantID: UUID, deviceID: UUID?, name: String?, method: PairingMethodKind,
        owner: String, leaseTTL: Duration, window: Duration
    ) async throws -> PairingStart

    /// Fenced by the device's lease: throws `LeaseLost` when its epoch moved on. Closes the
    /// session (once: a session already ended stays as it ended) and records its `pairing.ended`
    /// webhook event in the same transaction.
    func endPairing(_ pairingID: UUID, lease: Lease, outcome: PairingOutcome, detail: String?) async throws
    /// Counts a new QR or code, valid until `expiresAt`, with its `pairing.updated` event; fenced
    /// by the device's lease, as `endPairing`.
    func noteCodeIssued(pairingID: UUID, lease: Lease, expiresAt: Date) async throws
    func openPairing(tenantID: UUID) async throws -> PairingRecord?
    /// Ends open sessions past their deadline as `interrupted` and returns their devices (left
    /// in `pairing` by a dead owner) to `unpaired`, wiping their credentials. Returns how many.
    func interruptExpiredPairings(instance: String) async throws -> Int

    /// Takes the device's lease if it is free, expired or already `owner`'s; nil otherwise.
    func acquireLease(deviceID: UUID, owner: String, ttl: Duration) async throws -> (DeviceRecord, Lease)?
    /// Extends every lease still held at its epoch; returns the ids that were extended.
    func renewLeases(_ leases: [Lease], ttl: Duration) async throws -> Set<UUID>
    func releaseLease(_ lease: Lease) async throws
    /// Devices that want a connection, are not stopped, and whose lease is free or expired, by
    /// id, after `after`.
    func claimableDevices(after: UUID?, limit: Int) async throws -> [UUID]
    /// Stopped devices whose live lease `owner` still holds: it must close them.
    func stoppedDevices(owner: String) async throws -> [UUID]

    /// Registers `instance` or renews its heartbeat, with its capacity and whether it drains.
    func heartbeat(instance: String, capacity: Int, draining: Bool) async throws
    /// The instances whose heartbeat is younger than `liveness`, with the live leases each holds,
    /// and the live leases of the whole fleet.
    func fleetLoad(liveness: Duration) async throws -> FleetLoad

    /// Fenced: throws `LeaseLost` when the epoch moved on. Writes the state, the history row and
    /// the `device.state` webhook event (and `device.logged_out` on a logout) in one transaction.
    func recordTransition(_ lease: Lease, _ transition: DeviceStateMachine.Transition, instance: String) async throws
    func recordDisconnect(_ lease: Lease, reason: DisconnectReason, decision: ReconnectPolicy.Decision, instance: String) async throws
    func saveCredentials(_ lease: Lease, kind: String, sealed: SealedCredential) async throws
    func saveAccount(_ lease: Lease, jid: String?, lid: String?, platform: String?) async throws
    /// Wipes credentials and every bit of protocol state (sessions, identities, sender keys, prekeys,
    /// LID mappings); stored messages stay until retention removes them.
    func wipeCredentials(_ lease: Lease) async throws
    func loadCredentials(deviceID: UUID, kind: String) async throws -> SealedCredential?

    /// The device's Signal state and inbox for the receive path: reads, and commits fenced by
    /// `lease` (a stale epoch throws `LeaseLost` and writes nothing), rows sealed with `sealer`.
    func protocolStore(_ lease: Lease, tenantID: UUID, sealer: CredentialSealer) -> any ProtocolStore
    /// The device's outbox and cached device lists for the send path, fenced by `lease` like its
    /// protocol store.
    func outboxStore(_ lease: Lease, tenantID: UUID, sealer: CredentialSealer) -> any OutboxStore
    /// Deletes at most `limit` stored messages (any device) received more than `age` ago, skipping
    /// rows another instance is deleting; returns how many were deleted.
    func deleteMessages(olderThan age: Duration, limit: Int) async throws -> Int
    /// Fails at most `limit` queued outbound messages older than `age` (`expired`, with their
    /// `message.status` events) of devices that are not online; returns how many.
    func expireQueuedMessages(olderThan age: Duration, limit: Int) async throws -> Int
}
