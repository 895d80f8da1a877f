import ArgumentParser
import Foundation
import WireBench

/// `pairgate bench …`: benchmarks that print figures and write them as JSON.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the performance budgets (figures printed and written as JSON).",
        subcommands: [Wire.self]
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
