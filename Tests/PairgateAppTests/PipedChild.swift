import FleetHarness
import Foundation
import PairgateTestSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `pairgate` child whose standard output and error go into a pipe (a FIFO given to
/// SpawnedProcess as its log), read here line by line as they arrive: what `pairgate … | tee`
/// sees. `ended` turns true once every writer closed the pipe, i.e. the child exited.
final class PipedChild: Sendable {
    let process: SpawnedProcess
    private let state = Mutex(Output())

    private struct Output {
        var lines: [String] = []
        var ended = false
    }

    var lines: [String] { state.withLock { $0.lines } }
    var ended: Bool { state.withLock { $0.ended } }

    private init(process: SpawnedProcess) {
        self.process = process
    }

    /// Starts `pairgate arguments…` (the executable built beside the tests).
    static func start(_ arguments: [String]) throws -> PipedChild {
        let fifo = TestEnvironment.scratchDirectory + "/pipe-\(UUID().uuidString.prefix(8))"
        guard mkfifo(fifo, 0o600) == 0 else { throw FleetHarnessError("mkfifo \(fifo): errno \(errno)") }
        defer { unlink(fifo) }
        // The read end first and without blocking (a FIFO's open waits for the other end), so
        // that the child's open for writing finds a reader and returns at once.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        guard reader >= 0 else { throw FleetHarnessError("open \(fifo): errno \(errno)") }
        let process: SpawnedProcess
        do {
            process = try SpawnedProcess.spawn(
                try executable(), arguments, environment: ProcessInfo.processInfo.environment, logPath: fifo
            )
        } catch {
            close(reader)
            throw error
        }
        // posix_spawn returns after the child opened its end; from now on reads wait for data,
        // and end (0) only once the child's descriptors are closed.
        _ = fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK)
        let child = PipedChild(process: process)
        Thread { child.read(reader) }.start()
        return child
    }

    private func read(_ descriptor: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                state.withLock { $0.lines.append(line) }
            }
        }
        close(descriptor)
        let rest = pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
        state.withLock {
            if let rest { $0.lines.append(rest) }
            $0.ended = true
        }
    }

    /// The output so far, for failure messages.
    var transcript: String { lines.joined(separator: "\n") }

    /// The `pairgate` executable built next to this test bundle (`swift build --build-tests`).
    static func executable() throws -> String {
        let bundle = try GatewayProcess.currentExecutable()
        let path = URL(fileURLWithPath: bundle).deletingLastPathComponent().appending(path: "pairgate").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw FleetHarnessError("no pairgate executable at \(path): swift build --build-tests builds it")
        }
        return path
    }
}
