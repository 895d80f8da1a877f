import Crypto
import DevicePool
import Foundation
import PostgresStore
import Synchronization
import WAWire

/// Host → tenant and token → tenant lookups, cached for `ttl` because they run on every request.
/// Admin changes (disable, host removal, token revocation) clear the cache of every instance at
/// once through the fleet bus; if that notification is lost, an entry lives at most `ttl`.
///
/// Anyone can send a random Host or bearer token, so what is unknown is cached too, apart from
/// what is known: a flood of junk evicts only other junk (least recently used first), never a
/// tenant's entries. A lookup that misses the cache runs a query; at most `maximumLookups` run at
/// once, and a caller beyond that is refused at once (`Overloaded`) instead of queueing for the
/// pool that lease renewals and authenticated requests need.
public final class TenantDirectory: Sendable {
    /// Too many lookups are running: the caller answers 503 rather than wait.
    public struct Overloaded: Error, Sendable {}

    private struct Entry<Value: Sendable>: Sendable {
        var value: Value
        var expires: Date
    }

    private struct State {
        var hosts: LRUCache<String, Entry<HostBinding>>
        var unknownHosts: LRUCache<String, Date>
        var tokens: LRUCache<[UInt8], Entry<TokenInfo>>
        var unknownTokens: LRUCache<[UInt8], Date>
        var lookups = 0

        init(capacity: Int) {
            hosts = LRUCache(capacity: capacity)
            unknownHosts = LRUCache(capacity: capacity)
            tokens = LRUCache(capacity: capacity)
            unknownTokens = LRUCache(capacity: capacity)
        }
    }

    private let store: TenantStore
    private let ttl: Duration
    private let capacity: Int
    private let maximumLookups: Int
    private let now: @Sendable () -> Date
    private let state: Mutex<State>

    /// `capacity` entries per kind (known and unknown hosts, known and unknown tokens).
    public init(
        store: TenantStore, ttl: Duration, capacity: Int = 10_000, maximumLookups: Int = 4, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.ttl = ttl
        self.capacity = capacity
        self.maximumLookups = max(1, maximumLookups)
        self.now = now
        state = Mutex(State(capacity: capacity))
    }

    public func binding(host: String) async throws -> HostBinding? {
        let current = now()
        let cached = state.withLock { state -> HostBinding?? in
            if let hit = state.hosts.value(for: host), hit.expires > current { return .some(hit.value) }
            if let expires = state.unknownHosts.value(for: host), expires > current { return .some(nil) }
            return nil
        }
        if let cached { return cached }
        let value = try await lookup { try await self.store.binding(host: host) }
        remember(host: host, value, at: current)
        return value
    }

    /// The live token with this value, if any.
    public func token(_ value: String) async throws -> TokenInfo? {
        let digest = TenantToken(value: value).sha256
        let current = now()
        let cached = state.withLock { state -> TokenInfo?? in
            if let hit = state.tokens.value(for: digest), hit.expires > current { return .some(hit.value) }
            if let expires = state.unknownTokens.value(for: digest), expires > current { return .some(nil) }
            return nil
        }
        if let cached { return cached }
        let info = try await lookup { try await self.store.activeToken(sha256: digest) }
        remember(token: digest, info, at: current)
        return info
    }

    /// Forgets everything (an admin change here or on another instance).
    public func invalidate() {
        state.withLock { $0 = State(capacity: capacity) }
    }

    /// Runs one query if fewer than `maximumLookups` run; throws `Overloaded` otherwise.
    private func lookup<T: Sendable>(_ query: @Sendable () async throws -> T) async throws -> T {
        let admitted = state.withLock { state in
            guard state.lookups < maximumLookups else { return false }
            state.lookups += 1
            return true
        }
        guard admitted else { throw Overloaded() }
        defer { state.withLock { $0.lookups -= 1 } }
        return try await query()
    }

    private func remember(host: String, _ value: HostBinding?, at current: Date) {
        guard ttl > .zero else { return }
        let expires = current.addingTimeInterval(ttl.seconds)
        state.withLock { state in
            if let value {
                state.unknownHosts.removeValue(for: host)
                state.hosts.set(Entry(value: value, expires: expires), for: host)
            } else {
                state.hosts.removeValue(for: host)
                state.unknownHosts.set(expires, for: host)
            }
        }
    }

    private func remember(token digest: [UInt8], _ value: TokenInfo?, at current: Date) {
        guard ttl > .zero else { return }
        let expires = current.addingTimeInterval(ttl.seconds)
        state.withLock { state in
            if let value {
                state.unknownTokens.removeValue(for: digest)
                state.tokens.set(Entry(value: value, expires: expires), for: digest)
            } else {
                state.tokens.removeValue(for: digest)
                state.unknownTokens.set(expires, for: digest)
            }
        }
    }
}
