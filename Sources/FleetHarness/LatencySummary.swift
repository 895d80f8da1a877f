import Foundation

/// Percentiles of a set of latencies, in milliseconds.
public struct LatencySummary: Sendable, Codable, CustomStringConvertible {
    public var count: Int
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    /// Nearest-rank percentiles of latencies given in microseconds.
    public init(microseconds: [UInt32]) {
        self.init(milliseconds: microseconds.map { Double($0) / 1000 })
    }

    public init(milliseconds samples: [Double]) {
        let sorted = samples.sorted()
        count = sorted.count
        func rank(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]
        }
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        max = sorted.last ?? 0
    }

    public var description: String {
        "p50 \(Self.format(p50)) ms, p90 \(Self.format(p90)) ms, p99 \(Self.format(p99)) ms, max \(Self.format(max)) ms (n=\(count))"
    }

    static func format(_ value: Double) -> String {
        value < 10 ? String(format: "%.3f", value) : String(format: "%.1f", value)
    }
}
