import Foundation
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL cluster of one test's own, for tests that stop or restart the server without
/// disturbing the shared one. Runs initdb and pg_ctl as the user ops/test.sh names, on the test
/// thread pool (never blocking Swift's cooperative threads).
public final class TemporaryCluster: Sendable {
    public let port: Int
    public let dataDirectory: String
    private let binaries: String
    private let osUser: String?

    /// The cluster listens on a Unix socket only: a TCP port released during a restart could be
    /// taken by another test before the server binds it again.
    public var url: String { "host=\(dataDirectory) port=\(port) user=postgres dbname=postgres" }

    private init(binaries: String, osUser: String?, port: Int) {
        self.binaries = binaries
        self.osUser = osUser
        self.port = port
        dataDirectory = TestEnvironment.scratchDirectory + "/cluster-" + UUID().uuidString.prefix(8)
    }

    /// initdb and start a new cluster on a free port.
    public static func start() async throws -> TemporaryCluster {
        let binaries = try #require(TestEnvironment.postgresBinaries, "PAIRGATE_TEST_PGBIN is not set (run ops/test.sh)")
        let user = TestEnvironment.postgresOSUser
        let cluster = TemporaryCluster(
            binaries: binaries,
            osUser: (user == nil || user == NSUserName()) ? nil : user,
            port: try freeTCPPort()
        )
        try await TestDatabase.threadPool.runIfActive {
            try FileManager.default.createDirectory(atPath: cluster.dataDirectory, withIntermediateDirectories: true)
            if let osUser = cluster.osUser { try cluster.run("/bin/chown", [osUser, cluster.dataDirectory], asPostgres: false) }
            try cluster.run(binaries + "/initdb", ["--no-sync", "-D", cluster.dataDirectory, "-U", "postgres", "-A", "trust"])
            try cluster.startServer()
        }
        return cluster
    }

    /// Stops the server and removes its files on the test thread pool, without waiting: the last
    /// reference usually goes away on one of Swift's two cooperative threads, and pg_ctl waiting
    /// there for the shutdown stalled every other test in the process.
    deinit {
        let (binaries, dataDirectory, osUser) = (binaries, dataDirectory, osUser)
        TestDatabase.threadPool.submit { _ in
            try? Self.run(binaries + "/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "stop"], osUser: osUser)
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
    }

    public func start() async throws {
        try await TestDatabase.threadPool.runIfActive { try self.startServer() }
    }

    public func stop() async throws {
        try await TestDatabase.threadPool.runIfActive {
            try self.run(self.binaries + "/pg_ctl", ["-D", self.dataDirectory, "-m", "fast", "-w", "stop"])
        }
    }

    /// A fast-mode restart: every backend is told to terminate, as in a real server restart.
    public func restart() async throws {
        try await stop()
        try await start()
    }

    private func startServer() throws {
        try run(binaries + "/pg_ctl", [
            "-D", dataDirectory, "-l", dataDirectory + "/server.log", "-w", "-t", "30",
            "-o", "-p \(port) -k \(dataDirectory) -c listen_addresses='' -c fsync=off", "start",
        ])
    }

    private func run(_ tool: String, _ arguments: [String], asPostgres: Bool = true) throws {
        try Self.run(tool, arguments, osUser: asPostgres ? osUser : nil)
    }

    /// Runs `tool` to completion, as `osUser` when given (blocking: call it on the test thread pool).
    private static func run(_ tool: String, _ arguments: [String], osUser: String?) throws {
        let argv = osUser.map { ["-u", $0, "--", tool] + arguments } ?? arguments
        let result = try ChildProcess.runBlocking(osUser != nil ? "/usr/sbin/runuser" : tool, argv)
        guard result.status == 0 else {
            throw ClusterError(message: "\(tool) \(arguments.joined(separator: " ")) failed (status \(result.status)): \(result.outputText)\(result.errorText)")
        }
    }
}

struct ClusterError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A TCP port nothing listens on right now (bind to 0 and read what the kernel chose).
public func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClusterError(message: "socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw ClusterError(message: "bind() failed") }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
