import AsyncHTTPClient
import Logging
import NIOCore
import Synchronization

/// One AsyncHTTPClient per (endpoint, host name, checked address). AsyncHTTPClient resolves names
/// itself, at connect time, which would reopen the window between our check and the connection
/// (a DNS rebind). Its `dnsOverride` maps the name to the address we checked: the connection goes
/// to that address, while the Host header, TLS SNI and certificate verification still use the
/// name. The override is per client, hence a client per address; and per endpoint, so that
/// endpoints sharing a host (a receiver service many tenants use) never queue behind each
/// other's connections. Idle clients are shut down after a while.
final class PinnedClients: Sendable {
    struct Key: Hashable {
        var endpoint: String
        var host: String
        var address: IPAddress
    }

    private struct Entry {
        var client: HTTPClient
        var users: Int
        var lastUsed: ContinuousClock.Instant
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var lastSweep: ContinuousClock.Instant
        var closed = false
    }

    private let configuration: HTTPClient.Configuration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    /// A client nobody used for this long is shut down (its pooled connections with it).
    private let idleLifetime: Duration
    private let state: Mutex<State>

    init(configuration: HTTPClient.Configuration, eventLoopGroup: any EventLoopGroup, idleLifetime: Duration, logger: Logger) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.idleLifetime = idleLifetime
        self.logger = logger
        self.state = Mutex(State(lastSweep: .now))
    }

    /// Runs `body` with `endpoint`'s client that connects to `address` for `host`.
    func withClient<Result: Sendable>(
        endpoint: String, host: String, address: IPAddress, _ body: (HTTPClient) async -> Result
    ) async throws(CancellationError) -> Result {
        let key = Key(endpoint: endpoint, host: host, address: address)
        let client = try lease(key)
        let result = await body(client)
        let idle = giveBack(key)
        for client in idle {
            do { try await client.shutdown() } catch { logger.debug("webhook client shutdown failed", metadata: ["error": "\(error)"]) }
        }
        return result
    }

    /// Shuts every client down; later deliveries fail with CancellationError.
    func shutdown() async {
        let clients = state.withLock { state -> [HTTPClient] in
            state.closed = true
            defer { state.entries = [:] }
            return state.entries.values.map(\.client)
        }
        for client in clients {
            do { try await client.shutdown() } catch { logger.debug("webhook client shutdown failed", metadata: ["error": "\(error)"]) }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }

    private func lease(_ key: Key) throws(CancellationError) -> HTTPClient {
        let client = state.withLock { state -> HTTPClient? in
            guard !state.closed else { return nil }
            if var entry = state.entries[key] {
                entry.users += 1
                entry.lastUsed = .now
                state.entries[key] = entry
                return entry.client
            }
            var configuration = self.configuration
            // An IP literal URL needs no override: there is no name to resolve.
            if IPAddress(key.host) == nil { configuration.dnsOverride = [key.host: key.address.description] }
            let client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration, backgroundActivityLogger: logger)
            state.entries[key] = Entry(client: client, users: 1, lastUsed: .now)
            return client
        }
        guard let client else { throw CancellationError() }
        return client
    }

    /// Returns a lease; at most once a minute, removes the clients idle past `idleLifetime` and
    /// hands them back for shutting down.
    private func giveBack(_ key: Key) -> [HTTPClient] {
        state.withLock { state in
            let now = ContinuousClock.now
            if var entry = state.entries[key] {
                entry.users -= 1
                entry.lastUsed = now
                state.entries[key] = entry
            }
            guard now - state.lastSweep >= .seconds(60) else { return [] }
            state.lastSweep = now
            let idle = state.entries.filter { $0.value.users == 0 && now - $0.value.lastUsed >= idleLifetime }
            for key in idle.keys { state.entries[key] = nil }
            return idle.values.map(\.client)
        }
    }
}
