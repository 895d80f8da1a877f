import ArgumentParser
import FleetBench
import Foundation
import Logging
import Metrics
import PostgresClient
import Prometheus
import WireBench

/// `pairgate bench …`: benchmarks that print figures and write them as JSON.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the performance budgets (figures printed and written as JSON).",
        subcommands: [Wire.self, Pairing.self, Status.self, Fleet.self, Webhooks.self, Inbound.self, Send.self]
    )

    struct Wire: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Handshakes per second, transport throughput against raw AES-GCM, binary node rates."
        )

        @Option(help: "Seconds per measurement.")
        var seconds = 2.0

        @Option(help: "Also write the figures to this JSON file.")
        var json: String?

        func run() throws {
            warnIfDebugBuild()
            let result = try WireBenchmark.run(seconds: seconds)
            print(result)
            if let json { try writeJSON(result, to: json) }
        }
    }
}

extension BenchCommand {
    struct Pairing: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "POST /pair → first QR on the event stream, with many tenants pairing at once (budget p99 ≤ 25 ms).",
            discussion: """
            Runs the gateway in this process on a fresh database created on the server of \
            --database-url (dropped afterwards), its devices connecting to an in-process simulator.
            """
        )

        @OptionGroup var options: GlobalOptions

        @Option(help: "Tenants pairing at once.")
        var tenants = 100

        @Option(help: "Measured rounds (after one warm-up round); every tenant pairs once per round.")
        var rounds = 5

        @Option(help: """
            Seconds over which the tenants' POSTs are spread, evenly (0: all at the same instant).             Every pairing of a round stays open until the round ends, so all tenants still pair at once.
            """)
        var spread = 0.0

        @Option(help: "Also write the figures to this JSON file.")
        var json: String?

        func validate() throws {
            guard tenants > 0, rounds > 0 else { throw ValidationError("--tenants and --rounds must be at least 1") }
            guard spread >= 0, spread <= 600 else { throw ValidationError("--spread must be 0 to 600 seconds") }
        }

        func run() async throws {
            warnIfDebugBuild()
            let (serverURL, registry) = try await benchSetup(options)
            let result = try await PairingBenchmark.run(
                serverURL: serverURL, tenants: tenants, rounds: rounds, spread: .milliseconds(Int64(spread * 1000)),
                metrics: registry, logger: Logger(label: "pairgate.bench")
            )
            print(result)
            if let json { try writeJSON(result, to: json) }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "GET /status against GET /healthz of the same server under the same load (budget ratio ≥ 0.8).",
            discussion: """
            Runs the gateway in this process on a fresh database created on the server of \
            --database-url (dropped afterwards); the tenant's devices are paired through the \
            in-process simulator and online while /status is measured.
            """
        )

        @OptionGroup var options: GlobalOptions

        @Option(help: "Devices of the tenant whose /status is read.")
        var devices = 20

        @Option(name: .customLong("status-cache-ms"), help: "http.status_cache_ms of the gateway (0: every /status reads the database).")
        var statusCacheMilliseconds = 1000

        @Option(help: "Keep-alive connections, each sending its next request when the previous answer ended.")
        var connections = 64

        @Option(help: "Seconds measured per endpoint (after 2 s of warm-up).")
        var seconds = 10.0

        @Option(help: "Also write the figures to this JSON file.")
        var json: String?

        func run() async throws {
            warnIfDebugBuild()
            let (serverURL, registry) = try await benchSetup(options)
            let result = try await StatusBenchmark.run(
                serverURL: serverURL, devices: devices, statusCacheMilliseconds: statusCacheMilliseconds, connections: connections, seconds: seconds, metrics: registry,
                logger: Logger(label: "pairgate.bench")
            )
            print(result)
            if let json { try writeJSON(result, to: json) }
        }
    }
}

extension BenchCommand {
    struct Fleet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Memory per online device, idle CPU and restart time of one gateway process with many devices.",
            discussion: """
            Starts a throwaway PostgreSQL (initdb; as the postgres user when root) and `pairgate \
            serve` as a child process, pairs every device through the API and the in-process \
            simulator's phones, restarts the gateway with SIGTERM and reads its /proc figures. \
            Budgets: ≤ 64 KiB per device (≤ 48 KiB with messaging on: --messages received by every \
            device before memory is read), ≤ 5 % of one core idle, all online ≤ 60 s after a restart.
            """
        )

        @Option(help: "Devices to pair and keep online.")
        var devices = 10_000

        @Option(help: "Tenants pairing in parallel (one pairing per tenant at a time).")
        var tenants = 100

        @Option(help: "Seconds of idle CPU measurement.")
        var idleSeconds = 60.0

        @Option(help: "Set pool.ramp_per_second of the gateways (default: the gateway's own default).")
        var ramp: Int?

        @Option(help: "Messages a simulated contact sends every device after the restart, before memory is measured (0: messaging off).")
        var messages = 1

        @Option(help: "Folder for the throwaway cluster and the gateways' logs (default: a new one under /tmp).")
        var workDirectory: String?

        @Option(help: ArgumentHelp(
            "The executable run as `<it> serve` for the gateways (default: this pairgate).",
            discussion: "Another build to compare with this one, or a wrapper such as a heap profiler's."
        ))
        var gatewayExecutable: String?

        @Option(help: "Also write the figures to this JSON file.")
        var json: String?

        @Option(name: .customLong("log-level"), help: "Log level of this process and the gateways.")
        var logLevel = "warning"

        func run() async throws {
            warnIfDebugBuild()
            raiseOpenFileLimit()
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
                return handler
            }
            var options = FleetBenchmark.Options(
                workDirectory: workDirectory ?? NSTemporaryDirectory() + "pairgate-bench-fleet-\(UUID().uuidString.prefix(8))"
            )
            options.devices = devices
            options.tenants = max(1, min(tenants, devices))
            options.idleSeconds = idleSeconds
            options.rampPerSecond = ramp
            options.messagesPerDevice = messages
            if let gatewayExecutable {
                guard FileManager.default.isExecutableFile(atPath: gatewayExecutable) else {
                    throw ValidationError("--gateway-executable \(gatewayExecutable) is not an executable file")
                }
                options.executable = gatewayExecutable
            }
            print("work directory: \(options.workDirectory)")
            let result = try await FleetBenchmark.run(options, logger: Logger(label: "pairgate.bench"))
            print(result)
            if let json { try writeJSON(result, to: json) }
        }
    }
}

extension BenchCommand {
    struct Webhooks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Commit → delivery latency and deliveries per second at a steady event rate (budget p99 ≤ 250 ms at 1,000 events/s).",
            discussion: """
            Runs the gateway in this process on a fresh database created on the server of \
            --database-url (dropped afterwards); events are committed one per transaction, spread \
            over --devices devices of one tenant, whose endpoint is a receiver in this process.
            """
        )

        @OptionGroup var options: GlobalOptions

        @Option(help: "Events committed per second.")
        var rate = 1000.0

        @Option(help: "Seconds of steady load (after a warm-up of one event per device).")
        var seconds = 10.0

        @Option(help: "Devices the events are spread over.")
        var devices = 200

        @Option(help: "webhooks.concurrency of the gateway: deliveries in flight.")
        var concurrency = 32

        @Option(help: "Also write the figures to this JSON file.")
        var json: String?

        func validate() throws {
            guard rate > 0, rate <= 100_000, seconds > 0, seconds <= 3600 else { throw ValidationError("--rate must be 0 to 100000, --seconds 0 to 3600") }
            guard devices > 0, concurrency > 0 else { throw ValidationError("--devices and --concurrency must be at least 1") }
        }

        func run() async throws {
            warnIfDebugBuild()
            let (serverURL, registry) = try await benchSetup(options)
            var benchmark = WebhookBenchmark.Options()
            benchmark.rate = rate
            benchmark.seconds = seconds
            benchmark.devices = devices
            benchmark.concurrency = concurrency
            let result = try await WebhookBenchmark.run(serverURL: serverURL, options: benchmark, metrics: registry, logger: Logger(label: "pairgate.bench"))
            print(result)
            if let json { try writeJSON(result, to: json) }
        }
    }
}

extension BenchCommand {
    struct Inbound: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Messages per second through decrypt → commit → receipt, many devices at once (budget ≥ 5,000/s).",
            discussion: """
            Runs the receive pipeline in this process on a fresh database created on the server of \
            --database-url (dropped afterwards): every device's stanzas one at a time in order, \
            devices in parallel, as the pool does. Simulated contacts encrypt the stanzas before the \
            clock starts.
            """
        )

        @OptionGroup var options: GlobalOptions

        @Option(help: "Devices receiving at once.")
        var devices = 20

        @Option(help: "Messages per device.")
        var messages = 250

        @Option(help: "Contacts writing to each device (one Signal session each).")
        var contacts = 5

        @Option(help: "PostgreSQL connections of the pool.")
        var connections = 8

        @Option(help: "Also write the figures to this JSON file.")
        var json: String?

        func validate() throws {
            guard devices > 0, messages > 0, contacts > 0, connections > 0 else {
                throw ValidationError("--devices, --messages, --contacts and --connections must be at least 1")
            }
            guard devices <= 10_000, messages <= 100_000, contacts <= 1_000 else {
                throw ValidationError("at most 10,000 devices, 100,000 messages per device and 1,000 contacts")
            }
        }

        func run() async throws {
            warnIfDebugBuild()
            let (serverURL, _) = try await benchSetup(options)
            var benchmark = InboundBenchmark.Options()
            benchmark.devices = devices
            benchmark.messagesPerDevice = messages
            benchmark.contactsPerDevice = contacts
            benchmark.connections = connections
            let result = try await InboundBenchmark.run(serverURL: serverURL, options: benchmark, logger: Logger(label: "pairgate.bench"))
            print(result)
            if let json { try writeJSON(result, to: json) }
        }
    }
}

/// Logging at `warning` unless told otherwise, the Prometheus backend as `serve` has it, and the
/// database server's URL.
private func benchSetup(_ options: GlobalOptions) async throws -> (String, PrometheusCollectorRegistry) {
    let configuration = try await options.load(options.logLevel == nil ? ["log.level": "warning"] : [:])
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(ServeCommand.metricsFactory(registry: registry))
    return (try configuration.requireDatabase().url, registry)
}

func warnIfDebugBuild() {
    #if DEBUG
    print("warning: this is a debug build; build with `swift build -c release` for meaningful figures\n")
    #endif
}

func writeJSON(_ value: some Encodable, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(value).write(to: URL(fileURLWithPath: path))
    print("wrote \(path)")
}

extension BenchCommand {
    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "POST /messages → sent at a steady rate over many devices, pacing off (budget p99 ≤ 50 ms at 500 messages/s over 1,000 devices).",
            discussion: """
            Runs the gateway in this process on a fresh database created on the server of \
            --database-url (dropped afterwards); its devices are paired through the API and the \
            in-process simulator, whose contacts decrypt every message and answer with receipts. \
            Two unmeasured messages per device first, then POSTs open-loop at --rate; `sent` is seen \
            by polling the rows every --poll-ms. Then a closed-loop phase for the most messages per \
            second the whole path carries.
            """
        )

        @OptionGroup var options: GlobalOptions

        @Option(help: "Messages posted per second (open loop).")
        var rate = 500.0

        @Option(help: "Seconds of steady load.")
        var seconds = 10.0

        @Option(help: "Devices the messages are spread over (round robin).")
        var devices = 1000

        @Option(help: "Tenants owning the devices.")
        var tenants = 100

        @Option(help: "Simulated contacts the devices write to.")
        var contacts = 100

        @Option(name: .customLong("poll-ms"), help: "How often the rows still queued are polled (the latency's resolution).")
        var pollMilliseconds = 2

        @Option(name: .customLong("saturation-messages"), help: "Messages of the closed-loop phase (0: skip it).")
        var saturationMessages = 5000

        @Option(help: "PostgreSQL connections of the gateway's pool.")
        var connections = 10

        @Option(help: "Also write the figures to this JSON file.")
        var json: String?

        func validate() throws {
            guard rate > 0, rate <= 100_000, seconds > 0, seconds <= 3600 else { throw ValidationError("--rate must be 0 to 100000, --seconds 0 to 3600") }
            guard devices > 0, devices <= 10_000, tenants > 0, tenants <= devices, contacts > 0, contacts <= 10_000 else {
                throw ValidationError("--devices 1 to 10,000, --tenants 1 to --devices, --contacts 1 to 10,000")
            }
            guard (1...1000).contains(pollMilliseconds), saturationMessages >= 0, connections > 0 else {
                throw ValidationError("--poll-ms 1 to 1000, --saturation-messages at least 0, --connections at least 1")
            }
        }

        func run() async throws {
            warnIfDebugBuild()
            let (serverURL, registry) = try await benchSetup(options)
            var benchmark = SendBenchmark.Options()
            benchmark.rate = rate
            benchmark.seconds = seconds
            benchmark.devices = devices
            benchmark.tenants = tenants
            benchmark.contacts = contacts
            benchmark.pollMilliseconds = pollMilliseconds
            benchmark.saturationMessages = saturationMessages
            benchmark.connections = connections
            let result = try await SendBenchmark.run(serverURL: serverURL, options: benchmark, metrics: registry, logger: Logger(label: "pairgate.bench"))
            print(result)
            if let json { try writeJSON(result, to: json) }
        }
    }
}
