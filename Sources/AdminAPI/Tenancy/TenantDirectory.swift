import Crypto
import DevicePool
import Foundation
import PostgresStore
import Synchronization
import WAWire

/// Host → tenant and token → tenant lookups, cached for `ttl` because they run on every request.
/// Admin changes (disable, host removal, token revocation) clear the cache of every instance at
/// once through the fleet bus; if that notification is lost, an entry lives at most `ttl`.
public final class TenantDirectory: Sendable {
    private struct Entry<Value: Sendable>: Sendable {
        var value: Value?
        var expires: Date
    }

    private struct State {
        var hosts: [String: Entry<HostBinding>] = [:]
        var tokens: [[UInt8]: Entry<TokenInfo>] = [:]
    }

    private let store: TenantStore
    private let ttl: Duration
    private let now: @Sendable () -> Date
    private let state = Mutex(State())
    /// Random Host values or tokens must not grow the cache without bound.
    private let capacity = 10_000

    public init(store: TenantStore, ttl: Duration, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.ttl = ttl
        self.now = now
    }

    public func binding(host: String) async throws -> HostBinding? {
        let current = now()
        if let hit = state.withLock({ $0.hosts[host] }), hit.expires > current { return hit.value }
        let value = try await store.binding(host: host)
        remember(\.hosts, key: host, value: value, at: current)
        return value
    }

    /// The live token with this value, if any.
    public func token(_ value: String) async throws -> TokenInfo? {
        let digest = TenantToken(value: value).sha256
        let current = now()
        if let hit = state.withLock({ $0.tokens[digest] }), hit.expires > current { return hit.value }
        let info = try await store.activeToken(sha256: digest)
        remember(\.tokens, key: digest, value: info, at: current)
        return info
    }

    /// Forgets everything (an admin change here or on another instance).
    public func invalidate() {
        state.withLock { $0 = State() }
    }

    private func remember<Key: Hashable, Value: Sendable>(
        _ path: WritableKeyPath<State, [Key: Entry<Value>]>, key: Key, value: Value?, at current: Date
    ) {
        guard ttl > .zero else { return }
        let expires = current.addingTimeInterval(ttl.seconds)
        state.withLock { state in
            if state[keyPath: path].count >= capacity { state[keyPath: path].removeAll() }
            state[keyPath: path][key] = Entry(value: value, expires: expires)
        }
    }
}
