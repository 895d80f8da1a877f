import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server for a fleet run: a throwaway cluster (initdb in a folder of the work
/// directory, listening on a Unix socket only), or an existing database given by URL. initdb
/// and pg_ctl refuse to run as root, so as root they run as the `postgres` OS user (runuser).
public final class PostgresCluster: Sendable {
    /// The libpq connection string (URL or key=value) gateways and the harness use.
    public let url: String
    /// The cluster's data folder when pg_ctl can control it; nil for a bare URL (no restarts).
    public let dataDirectory: String?
    /// Whether `destroy()` deletes the data folder (only clusters this harness created).
    public let isThrowaway: Bool
    private let binaries: String
    private let port: Int
    private let osUser: String?

    private init(url: String, dataDirectory: String?, isThrowaway: Bool, binaries: String, port: Int, osUser: String?) {
        self.url = url
        self.dataDirectory = dataDirectory
        self.isThrowaway = isThrowaway
        self.binaries = binaries
        self.port = port
        self.osUser = osUser
    }

    /// Whether `restart()` is possible (a cluster with a data folder pg_ctl controls).
    public var canRestart: Bool { dataDirectory != nil }

    /// The Unix socket a throwaway cluster listens on (`BlackholeProxy.start(upstreamUnixSocket:)`);
    /// nil for a database given by URL.
    public var unixSocketPath: String? {
        guard isThrowaway, let dataDirectory else { return nil }
        return "\(dataDirectory)/.s.PGSQL.\(port)"
    }

    /// This cluster's connection string through a TCP proxy on 127.0.0.1:`port`.
    public func url(throughPort port: Int) -> String {
        "host=127.0.0.1 port=\(port) user=postgres dbname=postgres"
    }

    /// PostgreSQL's server binaries: `binaries`, else $PAIRGATE_PGBIN, else `pg_config --bindir`,
    /// else the newest /usr/lib/postgresql/*/bin.
    public static func findBinaries(_ binaries: String? = nil) async throws -> String {
        if let binaries { return binaries }
        if let configured = ProcessInfo.processInfo.environment["PAIRGATE_PGBIN"], !configured.isEmpty { return configured }
        if let pgConfig = SpawnedProcess.find("pg_config"),
           let result = try? await SpawnedProcess.run(pgConfig, ["--bindir"]), result.status == 0 {
            let directory = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if FileManager.default.isExecutableFile(atPath: directory + "/initdb") { return directory }
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        if let newest = versions.compactMap(Int.init).max(), FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\(newest)/bin/initdb") {
            return "/usr/lib/postgresql/\(newest)/bin"
        }
        throw FleetHarnessError("no PostgreSQL server binaries: install postgresql, or set PAIRGATE_PGBIN to the folder holding initdb and pg_ctl")
    }

    /// initdb a new cluster in `parent`/cluster-<random> and start it.
    public static func start(in parent: String, binaries: String? = nil) async throws -> PostgresCluster {
        let bin = try await findBinaries(binaries)
        let osUser: String? = getuid() == 0 ? "postgres" : nil
        let directory = parent + "/cluster-" + UUID().uuidString.prefix(8).lowercased()
        let port = Int.random(in: 20_000...60_000)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let cluster = PostgresCluster(
            url: "host=\(directory) port=\(port) user=postgres dbname=postgres",
            dataDirectory: directory, isThrowaway: true, binaries: bin, port: port, osUser: osUser
        )
        if let osUser { try await cluster.tool("/bin/chown", [osUser, directory], asPostgres: false) }
        try await cluster.tool(bin + "/initdb", ["--no-sync", "-D", directory, "-U", "postgres", "-A", "trust", "-E", "UTF8"])
        try await cluster.start()
        return cluster
    }

    /// An existing database. With `dataDirectory` (the cluster's PGDATA, controllable by pg_ctl
    /// as this user or as postgres when root) it can be restarted; otherwise it cannot.
    public static func existing(url: String, dataDirectory: String? = nil, binaries: String? = nil) async throws -> PostgresCluster {
        let bin = dataDirectory == nil ? (binaries ?? "") : try await findBinaries(binaries)
        return PostgresCluster(
            url: url, dataDirectory: dataDirectory, isThrowaway: false, binaries: bin, port: 0,
            osUser: getuid() == 0 ? "postgres" : nil
        )
    }

    /// Starts the server and waits until it accepts connections.
    public func start() async throws {
        let directory = try requireDataDirectory()
        var arguments = ["-D", directory, "-l", directory + "/server.log", "-w", "-t", "60"]
        if isThrowaway {
            arguments += ["-o", "-p \(port) -k \(directory) -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c max_connections=200"]
        }
        try await tool(binaries + "/pg_ctl", arguments + ["start"])
    }

    /// Stops the server; `fast` terminates every backend, as a real restart does.
    public func stop(immediate: Bool = false) async throws {
        let directory = try requireDataDirectory()
        try await tool(binaries + "/pg_ctl", ["-D", directory, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60", "stop"])
    }

    /// A fast-mode stop and a start: every connection of every gateway breaks.
    public func restart() async throws {
        try await stop()
        try await start()
    }

    /// Stops a throwaway cluster at once and deletes its folder; leaves an existing one alone.
    public func destroy() async {
        guard isThrowaway, let directory = dataDirectory else { return }
        if FileManager.default.fileExists(atPath: directory + "/postmaster.pid") {
            try? await stop(immediate: true)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func requireDataDirectory() throws -> String {
        guard let dataDirectory else {
            throw FleetHarnessError("this database was given by URL only: it cannot be started, stopped or restarted (give its data folder too)")
        }
        return dataDirectory
    }

    private func tool(_ path: String, _ arguments: [String], asPostgres: Bool = true) async throws {
        let (program, argv) = (asPostgres && osUser != nil) ? ("/usr/sbin/runuser", ["-u", osUser!, "--", path] + arguments) : (path, arguments)
        let result = try await SpawnedProcess.run(program, argv)
        guard result.status == 0 else {
            throw FleetHarnessError("\(path) \(arguments.joined(separator: " ")) failed (status \(result.status)): \(result.output)")
        }
    }
}
