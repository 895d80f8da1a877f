import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A program started with posix_spawn (never Foundation's `Process`), its standard output and
/// error appended to a log file. `wait()` reaps it with waitpid on the harness thread pool.
public final class SpawnedProcess: Sendable {
    public let pid: pid_t
    public let path: String
    public let logPath: String
    private let exitStatus = ExitBox()

    private init(pid: pid_t, path: String, logPath: String) {
        self.pid = pid
        self.path = path
        self.logPath = logPath
    }

    /// Starts `path` with `arguments` and exactly `environment`; output goes to `logPath` (appended).
    public static func spawn(
        _ path: String, _ arguments: [String], environment: [String: String], logPath: String
    ) throws -> SpawnedProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments = ([path] + arguments).map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cEnvironment.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, &cArguments, &cEnvironment)
        guard spawned == 0 else { throw FleetHarnessError("cannot start \(path): \(String(cString: strerror(spawned)))") }
        return SpawnedProcess(pid: pid, path: path, logPath: logPath)
    }

    /// Sends `signal` unless the process was already reaped.
    public func signal(_ signal: Int32) {
        guard exitStatus.value == nil else { return }
        kill(pid, signal)
    }

    /// Whether it has been reaped.
    public var hasExited: Bool { exitStatus.value != nil }

    /// Waits for the exit and returns the status (128 + signal when killed). Safe to call twice.
    @discardableResult
    public func wait() async throws -> Int32 {
        if let status = exitStatus.value { return status }
        return try await FleetHarness.threadPool.runIfActive { [pid, exitStatus] in
            if let status = exitStatus.value { return status }
            var status: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &status, 0) } while result == -1 && errno == EINTR
            let code: Int32 = result == -1 ? -1 : ((status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F))
            exitStatus.set(code)
            return code
        }
    }

    /// Runs a program to completion (on the harness thread pool) and returns its status and output.
    public static func run(_ path: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: String) {
        let log = NSTemporaryDirectory() + "pairgate-run-\(UUID().uuidString).log"
        defer { unlink(log) }
        let process = try spawn(path, arguments, environment: environment ?? ProcessInfo.processInfo.environment, logPath: log)
        let status = try await process.wait()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return (status, output)
    }

    /// The first executable called `name` on PATH.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// The exit status once known, shared between the waiting thread and everyone else.
private final class ExitBox: @unchecked Sendable {
    private let lock = NSLock()
    private var status: Int32?
    var value: Int32? { lock.withLock { status } }
    func set(_ value: Int32) { lock.withLock { status = value } }
}

/// Resident memory and CPU time of a process, from /proc/<pid>/status and /proc/<pid>/stat.
public struct ProcessUsage: Sendable, Hashable, Codable {
    /// VmRSS in bytes.
    public var residentBytes: Int
    /// User + system CPU time in seconds.
    public var cpuSeconds: Double

    /// Reads the figures of `pid`; nil when the process is gone. Blocking: call it off the cooperative pool.
    public static func read(pid: pid_t) -> ProcessUsage? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        var rss = 0
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            rss = (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ')': field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ProcessUsage(residentBytes: rss, cpuSeconds: (user + system) / ticks)
    }

    /// `read(pid:)` on the harness thread pool.
    public static func sample(pid: pid_t) async -> ProcessUsage? {
        (try? await FleetHarness.threadPool.runIfActive { read(pid: pid) }) ?? nil
    }
}
