import Foundation
import Synchronization

/// A token bucket per tenant for POST /pair, in this process (each instance limits on its own):
/// `burst` pairings at once, refilled at `perMinute`.
public final class PairingRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    private let perMinute: Double
    private let burst: Double
    private let buckets = Mutex<[UUID: Bucket]>([:])

    public init(perMinute: Double, burst: Int) {
        self.perMinute = perMinute
        self.burst = Double(max(burst, 1))
    }

    /// Takes a token, or returns how long until one is available.
    public func take(tenantID: UUID, now: Date) -> Duration? {
        buckets.withLock { buckets in
            var bucket = buckets[tenantID] ?? Bucket(tokens: burst, updated: now)
            let elapsed = max(0, now.timeIntervalSince(bucket.updated))
            bucket.tokens = min(burst, bucket.tokens + elapsed * perMinute / 60)
            bucket.updated = now
            defer { buckets[tenantID] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            guard perMinute > 0 else { return .seconds(3600) }
            return .seconds((1 - bucket.tokens) * 60 / perMinute)
        }
    }
}
