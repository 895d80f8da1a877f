import Foundation

/// The invariants of the scale-out scenario (`pairgate chaos --scale-out`, docs/chaos.md).
extension FleetInvariants {
    /// One handover as PostgreSQL recorded it: the old owner's `shutdown` disconnect, and the
    /// seconds until the device's next `online` transition (nil: it never came back).
    public struct Move: Sendable, Hashable, Codable {
        public var deviceID: UUID
        public var from: String
        public var offlineSeconds: Double?

        public init(deviceID: UUID, from: String, offlineSeconds: Double?) {
            self.deviceID = deviceID
            self.from = from
            self.offlineSeconds = offlineSeconds
        }
    }

    /// Every instance in `instances` holds its fair part of `total` (all equal capacities)
    /// within ±`tolerance`, and no other instance holds any.
    public static func spread(_ name: String, held: [String: Int], instances: [String], total: Int, tolerance: Double = 0.1) -> Check {
        let fair = Double(total) / Double(max(instances.count, 1))
        let off = instances.filter { abs(Double(held[$0] ?? 0) - fair) > fair * tolerance }
        let strays = held.filter { !instances.contains($0.key) && $0.value > 0 }.map(\.key).sorted()
        let figures = instances.map { "\($0) \(held[$0] ?? 0)" }.joined(separator: ", ")
        var detail = String(format: "fair %.1f each (±%.0f %%): %@", fair, tolerance * 100, figures)
        if !off.isEmpty { detail += "; outside: \(off.joined(separator: ", "))" }
        if !strays.isEmpty { detail += "; still held by \(strays.joined(separator: ", "))" }
        return Check(name: name, passed: off.isEmpty && strays.isEmpty, detail: detail)
    }

    /// Every moved device came back online, each in under `bound` seconds.
    public static func offline(_ moves: [Move], bound: Double) -> Check {
        let back = moves.compactMap(\.offlineSeconds)
        let lost = moves.filter { $0.offlineSeconds == nil }
        let slow = back.filter { $0 >= bound }
        let summary = LatencySummary(milliseconds: back.map { $0 * 1000 })
        var detail = String(format: "%d moves; offline p50 %.0f ms, p99 %.0f ms, max %.0f ms (bound %.0f ms)",
                            moves.count, summary.p50, summary.p99, (back.max() ?? 0) * 1000, bound * 1000)
        if !lost.isEmpty { detail += "; never back online: \(lost.count) (e.g. \(lost[0].deviceID.uuidString.lowercased()))" }
        if !slow.isEmpty { detail += "; at or over the bound: \(slow.count)" }
        return Check(name: "Each moved device offline once, briefly", passed: !moves.isEmpty && lost.isEmpty && slow.isEmpty, detail: detail)
    }

    /// No device logged in more often than once plus once per move: a handover costs exactly
    /// one reconnect.
    public static func loginsPerMove(logins: [String: Int], movesByJID: [String: Int]) -> Check {
        let over = logins.filter { $0.value > 1 + (movesByJID[$0.key] ?? 0) }.map(\.key).sorted()
        let total = logins.values.reduce(0, +)
        let moves = movesByJID.values.reduce(0, +)
        var detail = "\(total) logins for \(logins.count) devices and \(moves) moves"
        if !over.isEmpty { detail += "; more than 1 + moves: \(over.count) (e.g. \(over[0]))" }
        return Check(name: "One login per move", passed: over.isEmpty, detail: detail)
    }
}
