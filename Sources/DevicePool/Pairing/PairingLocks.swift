import Foundation
import Synchronization

/// The tenant already has a pairing running; carries it so the caller can point at it.
public struct PairingInProgress: Error, Sendable, Hashable, CustomStringConvertible {
    /// The running pairing, or nil while it is still being created.
    public var pairingID: UUID?
    public var deviceID: UUID?
    /// When the running pairing ends at the latest.
    public var expiresAt: Date?

    public init(pairingID: UUID?, deviceID: UUID?, expiresAt: Date?) {
        self.pairingID = pairingID
        self.deviceID = deviceID
        self.expiresAt = expiresAt
    }

    public var description: String {
        "a pairing is already in progress for this tenant" + (pairingID.map { " (\($0.uuidString.lowercased()))" } ?? "")
    }
}

/// One active pairing per tenant inside this process. `claim` is synchronous so that a caller
/// takes the lock before its first `await` — actors are re-entrant, and two requests must not
/// both get past the check. The database's unique partial index extends the rule to the fleet.
public final class PairingLocks: Sendable {
    /// Proof of holding a tenant's lock; releasing needs it, so a stale holder cannot release a
    /// newer pairing.
    public struct Claim: Sendable, Hashable {
        public let tenantID: UUID
        fileprivate let token: UUID
    }

    private struct Entry {
        var token: UUID
        var pairingID: UUID?
        var deviceID: UUID?
        var expiresAt: Date?
    }

    private let entries = Mutex<[UUID: Entry]>([:])

    public init() {}

    /// Takes the tenant's lock or reports the pairing that holds it.
    public func claim(tenantID: UUID) throws(PairingInProgress) -> Claim {
        let token = UUID()
        let holder: Entry? = entries.withLock { entries in
            if let existing = entries[tenantID] { return existing }
            entries[tenantID] = Entry(token: token)
            return nil
        }
        if let holder {
            throw PairingInProgress(pairingID: holder.pairingID, deviceID: holder.deviceID, expiresAt: holder.expiresAt)
        }
        return Claim(tenantID: tenantID, token: token)
    }

    /// Records which pairing holds the lock once it exists.
    public func attach(_ claim: Claim, pairingID: UUID, deviceID: UUID, expiresAt: Date) {
        entries.withLock { entries in
            guard entries[claim.tenantID]?.token == claim.token else { return }
            entries[claim.tenantID] = Entry(token: claim.token, pairingID: pairingID, deviceID: deviceID, expiresAt: expiresAt)
        }
    }

    /// Releases the lock if `claim` still holds it; returns whether it did.
    @discardableResult
    public func release(_ claim: Claim) -> Bool {
        entries.withLock { entries in
            guard entries[claim.tenantID]?.token == claim.token else { return false }
            entries[claim.tenantID] = nil
            return true
        }
    }

    /// The pairing holding the tenant's lock, if any.
    public func active(tenantID: UUID) -> PairingInProgress? {
        entries.withLock { entries in
            entries[tenantID].map { PairingInProgress(pairingID: $0.pairingID, deviceID: $0.deviceID, expiresAt: $0.expiresAt) }
        }
    }
}
