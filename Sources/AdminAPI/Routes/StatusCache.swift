import Foundation
import NIOCore
import Synchronization

/// Rendered GET /status bodies per tenant, kept for a short time so a dashboard polling /status
/// (or many of them) costs the database one read per tenant and interval instead of three
/// queries per request. A POST /pair or /reset through this instance drops the tenant's entry,
/// so a client sees its own action at once; changes made elsewhere show within the TTL.
final class StatusCache: Sendable {
    private struct Entry {
        var body: ByteBuffer
        var expires: Date
    }

    private let ttl: TimeInterval
    private let now: @Sendable () -> Date
    private let entries = Mutex<[UUID: Entry]>([:])
    /// Beyond this many entries, expired ones are dropped on the next store.
    private let sweepAbove = 1024

    init(ttl: Duration, now: @escaping @Sendable () -> Date) {
        let (seconds, attoseconds) = ttl.components
        self.ttl = Double(seconds) + Double(attoseconds) / 1e18
        self.now = now
    }

    var enabled: Bool { ttl > 0 }

    func body(tenantID: UUID) -> ByteBuffer? {
        guard enabled else { return nil }
        let date = now()
        return entries.withLock { entries in
            guard let entry = entries[tenantID], entry.expires > date else { return nil }
            return entry.body
        }
    }

    func store(_ body: ByteBuffer, tenantID: UUID) {
        guard enabled else { return }
        let date = now()
        entries.withLock { entries in
            if entries.count > sweepAbove { entries = entries.filter { $0.value.expires > date } }
            entries[tenantID] = Entry(body: body, expires: date.addingTimeInterval(ttl))
        }
    }

    func invalidate(tenantID: UUID) {
        guard enabled else { return }
        _ = entries.withLock { $0.removeValue(forKey: tenantID) }
    }
}
