import Foundation
import HTTPTypes
import Synchronization

/// The event streams this instance has open, counted per pairing, per tenant and in all, each
/// under its cap: a stream beyond one is refused (429 `too_many_streams`) instead of holding a
/// connection and a watcher more. A stream gives its place back when it ends (its ticket).
final class StreamLimits: Sendable {
    struct Caps: Sendable {
        var perPairing: Int
        var perTenant: Int
        var perInstance: Int
    }

    private struct Counts {
        var total = 0
        var tenants: [UUID: Int] = [:]
        var pairings: [UUID: Int] = [:]
    }

    private let caps: Caps
    private let counts = Mutex(Counts())

    init(_ caps: Caps) {
        self.caps = caps
    }

    /// A place for one more stream of this pairing, or the refusal naming the cap it hit.
    func admit(pairingID: UUID, tenantID: UUID) throws(APIError) -> StreamTicket {
        let refusal = counts.withLock { counts -> String? in
            if counts.pairings[pairingID, default: 0] >= caps.perPairing { return "at most \(caps.perPairing) per pairing" }
            if counts.tenants[tenantID, default: 0] >= caps.perTenant { return "at most \(caps.perTenant) per tenant" }
            if counts.total >= caps.perInstance { return "this instance has \(caps.perInstance) open" }
            counts.pairings[pairingID, default: 0] += 1
            counts.tenants[tenantID, default: 0] += 1
            counts.total += 1
            return nil
        }
        if let refusal {
            throw APIError(.tooManyRequests, .tooManyStreams, "Too many event streams", detail: refusal, headers: [.retryAfter: "5"])
        }
        return StreamTicket(limits: self, pairingID: pairingID, tenantID: tenantID)
    }

    fileprivate func release(pairingID: UUID, tenantID: UUID) {
        counts.withLock { counts in
            counts.total -= 1
            counts.tenants[tenantID, default: 1] -= 1
            if counts.tenants[tenantID] == 0 { counts.tenants[tenantID] = nil }
            counts.pairings[pairingID, default: 1] -= 1
            if counts.pairings[pairingID] == 0 { counts.pairings[pairingID] = nil }
        }
    }
}

/// One stream's place. Released when its stream ends, or when the ticket goes away unused (a
/// response discarded before its body ran).
final class StreamTicket: Sendable {
    private let limits: StreamLimits
    private let pairingID: UUID
    private let tenantID: UUID
    private let released = Atomic(false)

    fileprivate init(limits: StreamLimits, pairingID: UUID, tenantID: UUID) {
        self.limits = limits
        self.pairingID = pairingID
        self.tenantID = tenantID
    }

    func release() {
        guard !released.exchange(true, ordering: .relaxed) else { return }
        limits.release(pairingID: pairingID, tenantID: tenantID)
    }

    deinit {
        release()
    }
}
