import ArgumentParser
import FleetHarness
import Foundation
import Logging
import UnixSignals

/// `pairgate chaos`: a real fleet on this machine — PostgreSQL, the simulator, gateway
/// processes — paired through the API, put through a seeded fault schedule, then checked
/// against the fleet invariants (docs/chaos.md). Exits 1 when an invariant fails.
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Pair a simulated fleet, inject faults, kill and restart gateways and PostgreSQL, then check the fleet invariants.",
        discussion: """
            Without --database-url it starts a throwaway PostgreSQL (initdb as the postgres user when root; \
            binaries from --pgbin, $PAIRGATE_PGBIN or pg_config). Every child and cluster is stopped on exit, \
            also on Ctrl-C. The same --seed gives the same fault schedule. --scale-out runs the rebalancing \
            scenario instead: one gateway pairs --devices devices, two more join, then one is drained.
            """
    )

    @Option(help: "Length of the fault phase in minutes.")
    var minutes: Double = 2

    @Option(help: "Devices to pair and keep online.")
    var devices = 200

    @Option(name: .customLong("database-url"), help: "Use this database instead of a throwaway cluster (it is migrated; PostgreSQL is then not restarted unless --pg-data names its data folder).")
    var databaseURL: String?

    @Option(name: .customLong("pg-data"), help: "With --database-url: the cluster's data folder, so that pg_ctl can restart it.")
    var pgData: String?

    @Option(help: "PostgreSQL's server binaries (initdb, pg_ctl).")
    var pgbin: String?

    @Option(help: "Seed of the fault schedule (default: random, printed).")
    var seed: UInt64?

    @Option(help: "Also write the run's figures and verdicts to this JSON file.")
    var json: String?

    @Option(name: .customLong("work-dir"), help: "Folder for the cluster and the gateways' logs (default: a new one under /tmp).")
    var workDirectory: String?

    @Flag(name: .customLong("keep-work-dir"), help: "Keep the work folder (logs) even when every invariant holds.")
    var keepWorkDirectory = false

    @Option(name: .customLong("gateway-log-level"), help: "Log level of the gateway processes.")
    var gatewayLogLevel = "warning"

    @Option(name: .customLong("messages-per-second"), help: "Messages simulated contacts send through the fault phase, per second (0: no message load).")
    var messagesPerSecond = 4.0

    @Option(name: .customLong("sends-per-second"), help: "POST /messages the tenants send through the fault phase, per second (0: no send load).")
    var sendsPerSecond = 3.0

    @Flag(name: .customLong("scale-out"), help: "Run the scale-out scenario (add two instances, then drain one) instead of the fault schedule.")
    var scaleOut = false

    @Option(name: .customLong("handovers-per-minute"), help: "With --scale-out: the gateways' pool.handovers_per_minute.")
    var handoversPerMinute = 600

    @Option(name: .customLong("offline-bound-seconds"), help: "With --scale-out: a moved device offline this long or longer fails the run.")
    var offlineBoundSeconds = 5.0

    func validate() throws {
        guard minutes > 0, minutes <= 24 * 60 else { throw ValidationError("--minutes must be more than 0") }
        guard (1...10_000).contains(devices) else { throw ValidationError("--devices must be 1…10000") }
        guard pgData == nil || databaseURL != nil else { throw ValidationError("--pg-data needs --database-url") }
        guard Logger.Level(rawValue: gatewayLogLevel) != nil else { throw ValidationError("unknown --gateway-log-level \(gatewayLogLevel)") }
        guard (0...1_000).contains(messagesPerSecond) else { throw ValidationError("--messages-per-second must be 0…1000") }
        guard (0...1_000).contains(sendsPerSecond) else { throw ValidationError("--sends-per-second must be 0…1000") }
        guard (1...1_000_000).contains(handoversPerMinute) else { throw ValidationError("--handovers-per-minute must be 1…1000000") }
        guard offlineBoundSeconds > 0 else { throw ValidationError("--offline-bound-seconds must be more than 0") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        var options = ChaosRun.Options(minutes: minutes, devices: devices, seed: seed ?? UInt64.random(in: 1...UInt64(UInt32.max)))
        options.databaseURL = databaseURL
        options.dataDirectory = pgData
        options.binaries = pgbin
        options.gatewayLogLevel = gatewayLogLevel
        options.messagesPerSecond = messagesPerSecond
        options.sendsPerSecond = sendsPerSecond
        options.scaleOut = scaleOut
        options.handoversPerMinute = handoversPerMinute
        options.offlineBoundSeconds = offlineBoundSeconds
        let work = try workDirectory ?? Self.makeWorkDirectory()
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        chmod(work, 0o755)
        let run = ChaosRun(options: options, workDirectory: work)

        // The run and the signals race: Ctrl-C or SIGTERM cancels the run, whose cleanup then
        // stops every gateway, the simulator and the cluster before the process exits.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let outcome: Result<any ChaosOutcome, any Error> = await withTaskGroup(of: Result<any ChaosOutcome, any Error>?.self) { group in
            group.addTask {
                do {
                    return .success(run.options.scaleOut ? try await run.executeScaleOut() : try await run.execute())
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                for await signal in signals {
                    print("\n\(signal) received: stopping the fleet")
                    return nil
                }
                return nil
            }
            var result: Result<any ChaosOutcome, any Error> = .failure(CancellationError())
            for await next in group {
                if let next { result = next }
                group.cancelAll()
                break
            }
            return result
        }
        await run.cleanup()

        switch outcome {
        case .success(let report):
            if let json { try writeJSON(report, to: json) }
            let failed = report.failedInvariants
            if failed.isEmpty && !keepWorkDirectory {
                try? FileManager.default.removeItem(atPath: work)
            } else {
                print("logs: \(work)")
            }
            if !failed.isEmpty {
                print("\(failed.count) invariant(s) FAILED")
                throw ExitCode.failure
            }
            print("every invariant holds")
        case .failure(let error):
            print(error is CancellationError ? "chaos run interrupted" : "chaos run aborted: \(error)")
            print("logs: \(work)")
            throw ExitCode.failure
        }
    }

    static func makeWorkDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "pairgate-chaos.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw ValidationError("cannot create a work folder under \(NSTemporaryDirectory())") }
        return String(cString: made)
    }
}

/// What the command needs of either run's report (the fault schedule's or the scale-out's).
private protocol ChaosOutcome: Encodable, Sendable {
    var failedInvariants: [FleetInvariants.Check] { get }
}

extension ChaosReport: ChaosOutcome {}
extension ScaleOutReport: ChaosOutcome {}
