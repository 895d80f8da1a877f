import Logging
import NIOPosix
import WAClient
import WASim
import WAWire

extension APIHarness {
    /// Runs `body` with a started `pairgate sim` on loopback and a gateway whose devices connect to
    /// it through the real client (WAClient), trusting the simulator's root key.
    static func withSimulator(_ body: @Sendable (APIHarness, Simulator, Simulator.Endpoints) async throws -> Void) async throws {
        let logger = Logger(label: "pairgate.tests.sim")
        var configuration = SimConfiguration()
        configuration.server.port = 0
        configuration.control.port = 0
        configuration.threads = 1
        let simulator = try Simulator(configuration: configuration, logger: logger)
        let endpoints = try await simulator.start()
        var client = ClientConfiguration()
        client.upstreamURL = endpoints.webSocketURL
        client.session.trustedRootKey = simulator.rootKey.publicKey
        let upstream = UpstreamClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: client, logger: logger)
        do {
            try await run(connector: upstream) { h in try await body(h, simulator, endpoints) }
        } catch {
            await simulator.shutdown()
            throw error
        }
        await simulator.shutdown()
    }
}
