import FleetHarness
import PairgateTestSupport
import PostgresClient
import Testing

/// The proxy between libpq and a real PostgreSQL: it forwards, it holds traffic without a reset
/// while blackholed, and healing delivers what waited and lets new connections through.
@Suite("Blackhole proxy", .requiresDatabase)
struct BlackholeProxyTests {
    private func withProxy(_ body: (BlackholeProxy, PostgresConfiguration) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let proxy = BlackholeProxy()
            let port = try await proxy.start(upstreamHost: database.server.host, upstreamPort: database.server.port)
            #expect(proxy.port == port)
            var configuration = PostgresConfiguration(url: database.url(throughPort: port))
            configuration.connectTimeout = .seconds(2)
            configuration.responseTimeout = .seconds(1)
            do {
                try await body(proxy, configuration)
            } catch {
                await proxy.stop()
                throw error
            }
            await proxy.stop()
        }
    }

    private func makePool(_ configuration: PostgresConfiguration) -> PostgresPool {
        PostgresPool(configuration: configuration, threadPool: TestDatabase.threadPool, logger: TestDatabase.logger)
    }

    @Test func aLibpqConnectionWorksThroughTheProxy() async throws {
        try await withProxy { proxy, configuration in
            let pool = makePool(configuration)
            let echoed: String = try await pool.query("SELECT $1::text", ["through the proxy"])[0].decode(0)
            #expect(echoed == "through the proxy")
            let stats = proxy.stats
            #expect(stats.accepted == 1)
            #expect(stats.forwarding == 1)
            #expect(stats.bytesToUpstream > 0)
            #expect(stats.bytesFromUpstream > 0)
            #expect(!stats.isBlackholed)
            await pool.close()
            try await eventually("the closed connection unlinked", limit: .seconds(30)) { proxy.stats.forwarding == 0 }
        }
    }

    @Test func aClusterOnAUnixSocketIsReachedOverTCP() async throws {
        let cluster = try await TemporaryCluster.start()
        let proxy = BlackholeProxy()
        let port = try await proxy.start(upstreamUnixSocket: "\(cluster.dataDirectory)/.s.PGSQL.\(cluster.port)")
        let pool = makePool(PostgresConfiguration(url: "host=127.0.0.1 port=\(port) user=postgres dbname=postgres"))
        let one: Int = try await pool.query("SELECT 1")[0].decode(0)
        #expect(one == 1)
        #expect(proxy.stats.forwarding == 1)
        await pool.close()
        await proxy.stop()
    }

    @Test func whileBlackholedQueriesAndConnectsHangUntilTheClientsTimeouts() async throws {
        try await withProxy { proxy, configuration in
            let pool = makePool(configuration)
            try await pool.query("SELECT 1")
            await proxy.blackhole()
            let forwarded = proxy.stats.bytesToUpstream

            // Established: the query is acknowledged by the kernel and never answered.
            let query = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 2") }
            #expect(query?.code == .timedOut)
            // New: accepted (no refusal, no reset), never joined to PostgreSQL.
            let connect = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 3") }
            #expect(connect?.code == .connectionFailed)
            let stats = proxy.stats
            #expect(stats.isBlackholed)
            #expect(stats.accepted == 2)
            #expect(stats.held == 1)
            #expect(stats.bytesToUpstream == forwarded)
            await pool.close()
        }
    }

    @Test func healingDeliversWhatWaitedAndLetsNewConnectionsThrough() async throws {
        try await withProxy { proxy, configuration in
            var configuration = configuration
            configuration.responseTimeout = .seconds(60)
            let pool = makePool(configuration)
            try await pool.query("CREATE TABLE marks (n int8)")
            await proxy.blackhole()
            // Sent while blackholed: it waits in the buffers and runs once healed.
            let waiting = Task { try await pool.query("INSERT INTO marks VALUES (1) RETURNING n") }
            try await eventually("the insert holds the connection", limit: .seconds(30)) { pool.counts.idle == 0 }
            await proxy.heal()
            #expect(try await waiting.value[0].decode(0, as: Int.self) == 1)

            // A connection opened after healing reaches PostgreSQL too.
            let other = makePool(configuration)
            #expect(try await other.query("SELECT count(*) FROM marks")[0].decode(0, as: Int.self) == 1)
            #expect(proxy.stats.accepted == 2)
            #expect(proxy.stats.held == 0)
            await other.close()
            await pool.close()
        }
    }

    @Test func connectionsAcceptedWhileBlackholedAreJoinedWhenHealed() async throws {
        try await withProxy { proxy, configuration in
            var configuration = configuration
            configuration.connectTimeout = .seconds(30)
            await proxy.blackhole()
            let pool = makePool(configuration)
            let connecting = Task { try await pool.query("SELECT 42") }
            try await eventually("the connection is held", limit: .seconds(30), pause: .milliseconds(10)) { proxy.stats.held == 1 }
            await proxy.heal()
            #expect(try await connecting.value[0].decode(0, as: Int.self) == 42)
            #expect(proxy.stats.forwarding == 1)
            await pool.close()
        }
    }
}
