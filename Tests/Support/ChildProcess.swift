import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion with posix_spawn and waitpid on the test thread pool. Tests use
/// this instead of Foundation's Process, which missed child exits under parallel tests here and
/// whose waitUntilExit blocks one of the two cooperative threads.
public enum ChildProcess {
    public struct Result: Sendable {
        public var status: Int32
        public var output: [UInt8]
        public var errors: [UInt8]
        public var outputText: String { String(decoding: output, as: UTF8.self) }
        public var errorText: String { String(decoding: errors, as: UTF8.self) }
    }

    public static func run(_ path: String, _ arguments: [String]) async throws -> Result {
        try await TestDatabase.threadPool.runIfActive { try runBlocking(path, arguments) }
    }

    /// The blocking form, for code already on a thread of its own.
    public static func runBlocking(_ path: String, _ arguments: [String]) throws -> Result {
        let base = TestEnvironment.scratchDirectory + "/child-" + UUID().uuidString
        let outputPath = base + ".out", errorPath = base + ".err"
        defer {
            unlink(outputPath)
            unlink(errorPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var cArguments = ([path] + arguments).map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        _ = posix_spawn_file_actions_addclosefrom(&actions, 3)
        let spawned = posix_spawn(&pid, path, &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw ChildProcessError(message: "cannot start \(path): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Result(
            status: exit,
            output: (FileManager.default.contents(atPath: outputPath).map { [UInt8]($0) }) ?? [],
            errors: (FileManager.default.contents(atPath: errorPath).map { [UInt8]($0) }) ?? []
        )
    }

    /// The first executable called `name` on PATH.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// glibc ≥ 2.34 (Debian 12 has 2.36); not exported by Swift's Glibc module. Closes every
/// descriptor from `lowest` up in the child: SwiftNIO opens its sockets without close-on-exec, so
/// a child would otherwise keep this process's listeners alive after they are closed here.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
func posix_spawn_file_actions_addclosefrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32
