import Foundation

extension FleetInvariants {
    /// What a flood of unauthenticated requests did, and what the fleet did meanwhile.
    public struct FloodObservation: Sendable, Hashable, Codable {
        public var requests: Int
        public var seconds: Double
        /// Answers by HTTP status ("000": no answer within the client's timeout).
        public var byStatus: [String: Int]
        /// Per instance: devices it held when the flood began.
        public var devicesHeld: [String: Int]
        /// Per instance, how much each counter grew during the flood.
        public var renewalsOK: [String: Double]
        public var renewalsFailed: [String: Double]
        public var leasesLost: [String: Double]
        public var deadlineCloses: [String: Double]
        /// Disconnects the gateways recorded during the flood.
        public var disconnects: Int
        /// Logins the simulator counted for kept devices during the flood.
        public var logins: Int
        /// Kept devices not logged in on the simulator at its end.
        public var offline: [String]

        public init(
            requests: Int, seconds: Double, byStatus: [String: Int], devicesHeld: [String: Int], renewalsOK: [String: Double],
            renewalsFailed: [String: Double], leasesLost: [String: Double], deadlineCloses: [String: Double],
            disconnects: Int, logins: Int, offline: [String]
        ) {
            self.requests = requests
            self.seconds = seconds
            self.byStatus = byStatus
            self.devicesHeld = devicesHeld
            self.renewalsOK = renewalsOK
            self.renewalsFailed = renewalsFailed
            self.leasesLost = leasesLost
            self.deadlineCloses = deadlineCloses
            self.disconnects = disconnects
            self.logins = logins
            self.offline = offline
        }
    }

    /// Invariant 7: anonymous traffic does not starve lease renewals. While the flood poured in,
    /// no device dropped (no disconnect recorded, no new login, every kept device online), no
    /// renewal failed, no lease was lost or ran past its deadline, and every instance holding
    /// devices renewed at least once (or nothing was proven).
    public static func noDropUnderFlood(_ flood: FloodObservation) -> Check {
        var problems: [String] = []
        if flood.requests == 0 { problems.append("no request was sent") }
        if flood.disconnects > 0 { problems.append("\(flood.disconnects) disconnects recorded") }
        if flood.logins > 0 { problems.append("\(flood.logins) logins") }
        if !flood.offline.isEmpty { problems.append("\(flood.offline.count) devices offline: \(flood.offline.prefix(3).joined(separator: ", "))") }
        for (instance, held) in flood.devicesHeld.sorted(by: { $0.key < $1.key }) {
            for (what, counts) in [("failed renewals", flood.renewalsFailed), ("leases lost", flood.leasesLost), ("deadline closes", flood.deadlineCloses)] {
                if let grew = counts[instance], grew > 0 { problems.append("\(instance): \(Int(grew)) \(what)") }
            }
            if held > 0, (flood.renewalsOK[instance] ?? 0) < 1 { problems.append("\(instance) holds \(held) devices and renewed none") }
        }
        let rate = flood.seconds > 0 ? Double(flood.requests) / flood.seconds : 0
        let statuses = flood.byStatus.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        let renewals = flood.renewalsOK.sorted { $0.key < $1.key }.map { "\($0.key) +\(Int($0.value))" }.joined(separator: ", ")
        return Check(
            name: "no device dropped under an unauthenticated flood",
            passed: problems.isEmpty,
            detail: String(format: "%d requests in %.1f s (%.0f/s): ", flood.requests, flood.seconds, rate) + statuses
                + "; renewals during it: \(renewals.isEmpty ? "none" : renewals); \(flood.disconnects) disconnects, \(flood.logins) logins"
                + summary(problems)
        )
    }
}
