import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Resident memory and CPU time of a process, from /proc/<pid>/status and /proc/<pid>/stat.
public struct ProcessUsage: Sendable, Hashable, Codable {
    /// VmRSS in bytes.
    public var residentBytes: Int
    /// User + system CPU time in seconds.
    public var cpuSeconds: Double

    /// Reads the figures of `pid`; nil when the process is gone. Blocking: call it off the cooperative pool.
    public static func read(pid: pid_t) -> ProcessUsage? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        var rss = 0
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            rss = (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ')': field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ProcessUsage(residentBytes: rss, cpuSeconds: (user + system) / ticks)
    }

    /// `read(pid:)` on the harness thread pool.
    public static func sample(pid: pid_t) async -> ProcessUsage? {
        (try? await FleetHarness.threadPool.runIfActive { read(pid: pid) }) ?? nil
    }
}
