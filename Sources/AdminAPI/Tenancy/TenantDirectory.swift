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
/// once. A few callers more (`maximumWaiting`) wait up to `lookupWait` for a turn — a burst of
/// real clients on a cold cache — and anyone beyond, or waiting longer, is refused (`Overloaded`)
/// instead of queueing for the pool that authenticated requests need.
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
        var waiting: [(id: UUID, turn: CheckedContinuation<Bool, Never>)] = []

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
    private let maximumWaiting: Int
    private let lookupWait: Duration
    private let now: @Sendable () -> Date
    private let state: Mutex<State>

    /// `capacity` entries per kind (known and unknown hosts, known and unknown tokens);
    /// `maximumWaiting` nil: 64 per lookup slot (100 tenants pairing in the same instant on a cold
    /// cache wait their turn: each needs a host and a token lookup of a few milliseconds).
    public init(
        store: TenantStore, ttl: Duration, capacity: Int = 10_000, maximumLookups: Int = 4, maximumWaiting: Int? = nil,
        lookupWait: Duration = .seconds(1), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.ttl = ttl
        self.capacity = capacity
        self.maximumLookups = max(1, maximumLookups)
        self.maximumWaiting = max(0, maximumWaiting ?? 64 * max(1, maximumLookups))
        self.lookupWait = lookupWait
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

    /// Runs one query once fewer than `maximumLookups` run; throws `Overloaded` when too many
    /// wait already or no turn came within `lookupWait`.
    private func lookup<T: Sendable>(_ query: @Sendable () async throws -> T) async throws -> T {
        guard await turn() else { throw Overloaded() }
        defer { finished() }
        return try await query()
    }

    private enum Admission {
        case now, wait, refused
    }

    /// Takes a lookup slot, waiting for one when a place in the line is free.
    private func turn() async -> Bool {
        let id = UUID()
        let wait = lookupWait
        return await withTaskGroup(of: Bool?.self) { group in
            group.addTask {
                await withCheckedContinuation { (turn: CheckedContinuation<Bool, Never>) in
                    let admission = self.state.withLock { state -> Admission in
                        if state.lookups < self.maximumLookups {
                            state.lookups += 1
                            return .now
                        }
                        guard state.waiting.count < self.maximumWaiting, !Task.isCancelled else { return .refused }
                        state.waiting.append((id, turn))
                        return .wait
                    }
                    switch admission {
                    case .now: turn.resume(returning: true)
                    case .refused: turn.resume(returning: false)
                    case .wait: break
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: wait)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if let first { return first }
            // Timed out: leave the line, unless a turn was handed over at the last moment.
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiting.remove(at: index).turn
            }
            if let waiter {
                waiter.resume(returning: false)
                return false
            }
            let late = await group.next() ?? nil
            return late ?? false
        }
    }

    /// Callers waiting in line for a lookup slot.
    var lookupsWaiting: Int {
        state.withLock { $0.waiting.count }
    }

    /// A lookup ended: its slot goes to the first caller waiting, if any.
    private func finished() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard !state.waiting.isEmpty else {
                state.lookups -= 1
                return nil
            }
            return state.waiting.removeFirst().turn
        }
        next?.resume(returning: true)
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
