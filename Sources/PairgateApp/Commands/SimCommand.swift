import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import WASim

/// `pairgate sim`: a local WhatsApp server and simulated phone, for the demo, tenants' CI and load tests.
struct SimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run a simulated WhatsApp server and phone (WebSocket endpoint + control API and web page).",
        discussion: """
            Point a gateway at the printed WebSocket URL and tell it to trust the printed root public key.
            Drive the phone from the control URL (a web page, or JSON: POST /phone/scan, POST /phone/code, \
            GET /phones/{phone}/devices, POST /contacts, POST /contacts/{phone}/send, POST /groups, POST /faults, \
            GET /stats). Stops on SIGINT or SIGTERM.
            """
    )

    @Option(help: "Address the WebSocket server binds.")
    var host = "127.0.0.1"

    @Option(help: "WebSocket port (0 picks a free one).")
    var port = 5280

    @Flag(help: "Serve wss:// with a generated self-signed certificate.")
    var tls = false

    @Option(name: .customLong("tls-ca-file"), help: "With --tls, also write the test CA certificate (PEM) here for clients to trust.")
    var tlsCAFile: String?

    @Option(name: .customLong("control-host"), help: "Address the control API binds.")
    var controlHost = "127.0.0.1"

    @Option(name: .customLong("control-port"), help: "Control API port (0 picks a free one).")
    var controlPort = 5281

    @Option(name: .customLong("root-key"), help: "Root private key file: loaded, or generated and saved (mode 0600).")
    var rootKey = ".pairgate/sim/root.key"

    @Option(name: .customLong("state"), help: "State file (accounts and linked devices), rewritten atomically on change.")
    var state = ".pairgate/sim/state.json"

    @Flag(name: .customLong("in-memory"), help: "Keep root key and state in memory only (a new root every run).")
    var inMemory = false

    @Option(name: .customLong("ref-count"), help: "Refs per pair-device.")
    var refCount = 6

    @Option(name: .customLong("first-ref-seconds"), help: "Lifetime of the first QR ref.")
    var firstRefSeconds: Double = 60

    @Option(name: .customLong("later-ref-seconds"), help: "Lifetime of every later QR ref.")
    var laterRefSeconds: Double = 20

    @Option(name: .customLong("default-phone"), help: "Phone number a scan links to when none is given.")
    var defaultPhone = "15550001234"

    @Option(name: .customLong("phone"), help: "Another account to create at start (repeatable); code pairing needs the account first.")
    var phones: [String] = []

    @Flag(name: .customLong("refresh-on-scan"), help: "Send companion_reg_refresh on each ref's first scan; the re-rendered QR must be scanned again.")
    var refreshOnScan = false

    @Option(name: .customLong("ack-deadline-seconds"), help: "How long a delivered message may stay unanswered before the connection gets <stream:error><ack/> and is closed.")
    var ackDeadlineSeconds: Double = 60

    @Option(name: .customLong("read-receipt-seconds"), help: "How long after a linked device's message reached a contact the contact sends its read receipt.")
    var readReceiptSeconds: Double = 2

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard tlsCAFile == nil || tls else { throw ValidationError("--tls-ca-file needs --tls") }
        guard (1...64).contains(refCount) else { throw ValidationError("--ref-count must be 1…64") }
        guard firstRefSeconds > 0, laterRefSeconds > 0 else { throw ValidationError("ref lifetimes must be positive") }
        guard ackDeadlineSeconds > 0, ackDeadlineSeconds <= 86400 else { throw ValidationError("--ack-deadline-seconds must be in (0, 86400]") }
        guard readReceiptSeconds >= 0, readReceiptSeconds <= 86400 else { throw ValidationError("--read-receipt-seconds must be in [0, 86400]") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "pairgate.sim")
        let simulator = try Simulator(configuration: try simConfiguration(), logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [SimulatorService(simulator: simulator, caFile: tlsCAFile)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }

    private func simConfiguration() throws -> SimConfiguration {
        var configuration = SimConfiguration()
        configuration.server = .init(host: host, port: port)
        configuration.tls = tls
        configuration.control = .init(host: controlHost, port: controlPort)
        configuration.refs.count = refCount
        configuration.refs.firstLifetime = .milliseconds(Int64(firstRefSeconds * 1000))
        configuration.refs.laterLifetime = .milliseconds(Int64(laterRefSeconds * 1000))
        configuration.defaultPhone = defaultPhone
        configuration.phones = phones
        configuration.refreshOnScan = refreshOnScan
        configuration.ackDeadline = .milliseconds(Int64(ackDeadlineSeconds * 1000))
        configuration.readReceiptDelay = readReceiptSeconds
        if !inMemory {
            for path in [rootKey, state] {
                let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            }
            configuration.rootKeyPath = rootKey
            configuration.statePath = state
        }
        return configuration
    }
}

/// Runs the simulator until the service group shuts down, printing where to reach it.
private struct SimulatorService: Service {
    let simulator: Simulator
    let caFile: String?

    func run() async throws {
        let endpoints = try await simulator.start()
        var lines = [
            "pairgate sim is running",
            "  WebSocket:         \(endpoints.webSocketURL)",
            "  control and phone: \(endpoints.controlURL)",
            "  root public key:   \(simulator.rootPublicKeyHex)",
        ]
        if let ca = endpoints.certificateAuthorityPEM {
            if let caFile {
                try Data(ca.utf8).write(to: URL(fileURLWithPath: caFile))
                lines.append("  TLS test CA:       \(caFile) (trust it for wss://)")
            } else {
                lines.append("  TLS test CA (trust it for wss://):\n\(ca)")
            }
        }
        // Written straight to the descriptor: scripts read these lines from a pipe, where print() buffers.
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        try? await gracefulShutdown()
        await simulator.shutdown()
    }
}
