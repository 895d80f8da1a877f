import Foundation
import NIOPosix
import Synchronization

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
        _ = posix_spawn_file_actions_addclosefrom(&actions, 3)
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
private final class ExitBox: Sendable {
    private let status = Mutex<Int32?>(nil)
    var value: Int32? { status.withLock { $0 } }
    func set(_ value: Int32) { status.withLock { $0 = value } }
}

/// glibc ≥ 2.34 (Debian 12 has 2.36); not exported by Swift's Glibc module. Closes every
/// descriptor from `lowest` up in the child: SwiftNIO opens its sockets without close-on-exec, so
/// a child would otherwise keep this process's listeners alive after they are closed here.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
func posix_spawn_file_actions_addclosefrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32
