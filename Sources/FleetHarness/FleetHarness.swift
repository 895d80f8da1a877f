import NIOPosix

/// What `pairgate chaos` and fleet benchmarks need to run a real fleet on one machine: a
/// throwaway PostgreSQL (`PostgresCluster`), gateway processes (`GatewayProcess`, each
/// `pairgate serve` spawned with posix_spawn), a small client for the gateway's HTTP API
/// (`GatewayClient`) and the fleet invariants (`FleetInvariants`). The simulator runs in the
/// caller's process (WASim's `Simulator`), so its stats are read directly.
///
/// Every blocking call (waitpid, pg_ctl, reading /proc) runs on `FleetHarness.threadPool`,
/// never on Swift's cooperative pool.
public enum FleetHarness {
    /// The threads blocking work runs on: one per child being waited for, plus tool runs.
    public static let threadPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
        return pool
    }()
}

/// A harness failure: what went wrong, in words an operator can act on.
public struct FleetHarnessError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
