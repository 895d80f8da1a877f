import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
#if canImport(CNIOLinux)
// Release builds resolve sockaddr_in's members to swift-nio's C module, which glibc's headers
// reach first there (MemberImportVisibility then asks for that module's import).
import CNIOLinux
#endif

#if canImport(Glibc)
import Glibc
#endif

/// One `pairgate serve` child process configured through PAIRGATE_* environment variables
/// (docs/configuration.md): its own instance id and HTTP port, output appended to
/// `<workDirectory>/<instanceID>.log`, its pid in `<workDirectory>/<instanceID>.pid` (so a
/// script can kill what a crashed harness left behind).
public final class GatewayProcess: Sendable {
    /// What every instance of a fleet shares, and what differs per instance.
    public struct Configuration: Sendable {
        public var databaseURL: String
        public var upstreamURL: String
        /// 64 hex digits (the simulator's `rootPublicKeyHex`).
        public var upstreamRootKey: String
        public var masterKey: String
        public var adminToken: String
        /// base64 of 32 bytes, the same on every instance so pairing links work everywhere.
        public var linkKey: String
        public var logLevel = "warning"
        /// More PAIRGATE_* settings (key → value, e.g. `PAIRGATE_HTTP_PAIR_BURST`).
        public var extraEnvironment: [String: String] = [:]

        public init(databaseURL: String, upstreamURL: String, upstreamRootKey: String, masterKey: String, adminToken: String, linkKey: String) {
            self.databaseURL = databaseURL
            self.upstreamURL = upstreamURL
            self.upstreamRootKey = upstreamRootKey
            self.masterKey = masterKey
            self.adminToken = adminToken
            self.linkKey = linkKey
        }
    }

    public let instanceID: String
    public let port: Int
    public let process: SpawnedProcess
    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var pid: pid_t { process.pid }
    private let pidFile: String

    private init(instanceID: String, port: Int, process: SpawnedProcess, pidFile: String) {
        self.instanceID = instanceID
        self.port = port
        self.process = process
        self.pidFile = pidFile
    }

    /// The running executable (/proc/self/exe): a gateway of the same build as the harness.
    public static func currentExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { throw FleetHarnessError("cannot read /proc/self/exe") }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Spawns `executable serve` with `configuration`, as `instanceID` on `port` (0: a free one
    /// chosen now), and returns once its /readyz answers 200 (or throws after `readyTimeout`,
    /// killing it). The child's environment is the parent's without any PAIRGATE_* variable,
    /// plus the configuration; it inherits the working directory (so `config/pairgate.json`
    /// there supplies the non-secret defaults, as for any `pairgate serve`).
    public static func start(
        instanceID: String,
        port: Int = 0,
        configuration: Configuration,
        workDirectory: String,
        executable: String? = nil,
        readyTimeout: Duration = .seconds(60)
    ) async throws -> GatewayProcess {
        let chosenPort = port == 0 ? try freeTCPPort() : port
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PAIRGATE_") }
        environment["PAIRGATE_DATABASE_URL"] = configuration.databaseURL
        environment["PAIRGATE_HTTP_HOST"] = "127.0.0.1"
        environment["PAIRGATE_HTTP_PORT"] = String(chosenPort)
        environment["PAIRGATE_INSTANCE_ID"] = instanceID
        environment["PAIRGATE_UPSTREAM_URL"] = configuration.upstreamURL
        environment["PAIRGATE_UPSTREAM_ROOT_KEY"] = configuration.upstreamRootKey
        environment["PAIRGATE_CREDENTIALS_MASTER_KEY"] = configuration.masterKey
        environment["PAIRGATE_ADMIN_TOKEN"] = configuration.adminToken
        environment["PAIRGATE_HTTP_LINK_KEY"] = configuration.linkKey
        environment["PAIRGATE_LOG_LEVEL"] = configuration.logLevel
        environment.merge(configuration.extraEnvironment) { _, new in new }
        let process = try SpawnedProcess.spawn(
            try executable ?? currentExecutable(), ["serve"], environment: environment,
            logPath: workDirectory + "/\(instanceID).log"
        )
        let pidFile = workDirectory + "/\(instanceID).pid"
        try? Data("\(process.pid)\n".utf8).write(to: URL(fileURLWithPath: pidFile))
        let gateway = GatewayProcess(instanceID: instanceID, port: chosenPort, process: process, pidFile: pidFile)
        do {
            try await gateway.waitUntilReady(timeout: readyTimeout)
        } catch {
            await gateway.kill()
            throw error
        }
        return gateway
    }

    /// Polls GET /readyz until it answers 200.
    public func waitUntilReady(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if process.hasExited { throw FleetHarnessError("gateway \(instanceID) exited before it was ready (see \(process.logPath))") }
            var request = HTTPClientRequest(url: baseURL + "/readyz")
            request.method = .GET
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)) {
                _ = try? await response.body.collect(upTo: 1 << 16)
                if response.status == .ok { return }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw FleetHarnessError("gateway \(instanceID) was not ready within \(timeout) (see \(process.logPath))")
    }

    /// SIGTERM (a graceful shutdown: devices close, leases are released) and waits up to `grace`,
    /// then SIGKILL. Returns the exit status.
    @discardableResult
    public func terminate(grace: Duration = .seconds(30)) async -> Int32 {
        process.signal(SIGTERM)
        async let exit = process.wait()
        let deadline = ContinuousClock.now + grace
        while !process.hasExited, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if !process.hasExited { process.signal(SIGKILL) }
        let status = (try? await exit) ?? -1
        unlink(pidFile)
        return status
    }

    /// SIGKILL (a crash: nothing is closed or released) and waits for the exit.
    @discardableResult
    public func kill() async -> Int32 {
        process.signal(SIGKILL)
        let status = (try? await process.wait()) ?? -1
        unlink(pidFile)
        return status
    }

    /// Resident memory and CPU time now; nil once it exited.
    public func usage() async -> ProcessUsage? {
        process.hasExited ? nil : await ProcessUsage.sample(pid: pid)
    }
}

/// A TCP port on 127.0.0.1 nothing listens on right now (bind to 0 and read what the kernel chose).
public func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FleetHarnessError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw FleetHarnessError("bind() failed") }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
