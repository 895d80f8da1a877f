import AsyncHTTPClient
import Foundation
import NIOCore
import PostgresClient
import WASim

extension ChaosRun {
    /// How long the settled fleet is flooded: past one lease renewal interval (10 s), so every
    /// instance renews under the flood.
    static let floodSeconds = 12.0

    /// Floods every running gateway with unauthenticated requests while the settled fleet runs,
    /// and checks that no device dropped meanwhile (`FleetInvariants.noDropUnderFlood`).
    func floodStep(
        fleet: GatewayFleet, tenants: [GatewayClient.Tenant], simulator: Simulator, pool: PostgresPool, record: FleetInvariants.RunRecord
    ) async throws -> (UnauthenticatedFlood.Figures, FleetInvariants.Check) {
        let gateways = fleet.running
        var held: [String: Int] = [:]
        for row in try await pool.query("SELECT lease_owner, count(*)::int8 FROM devices WHERE lease_expires_at > now() GROUP BY 1") {
            held[try row.decode(0, as: String.self)] = Int(try row.decode(1, as: Int64.self))
        }
        var before: [String: [String: Double]] = [:]
        for gateway in gateways { before[gateway.instanceID] = try await Self.counters(of: gateway) }
        let started: Date = try await pool.query("SELECT now()")[0].decode(0)
        let loginsBefore = Dictionary(uniqueKeysWithValues: record.kept.map { ($0.jid, simulator.stats.logins(of: $0.jid)) })
        event("flooding \(gateways.map(\.instanceID).joined(separator: ", ")) with unauthenticated requests for \(Int(Self.floodSeconds)) s")

        let figures = await UnauthenticatedFlood(targets: gateways.map(\.baseURL), knownHosts: tenants.map(\.host))
            .run(for: .seconds(Self.floodSeconds))

        var deltas: [String: [String: Double]] = [:]
        for gateway in gateways {
            let after = try await Self.counters(of: gateway)
            deltas[gateway.instanceID] = after.merging(before[gateway.instanceID] ?? [:]) { $0 - $1 }
        }
        func grew(_ series: String) -> [String: Double] {
            deltas.mapValues { $0[series] ?? 0 }
        }
        let disconnects: Int64 = try await pool.query("SELECT count(*)::int8 FROM disconnects WHERE at >= $1", [started])[0].decode(0)
        let logins = record.kept.reduce(0) { $0 + simulator.stats.logins(of: $1.jid) - (loginsBefore[$1.jid] ?? 0) }
        let observation = FleetInvariants.FloodObservation(
            requests: figures.requests, seconds: figures.seconds, byStatus: figures.byStatus,
            devicesHeld: held.filter { owner, _ in gateways.contains { $0.instanceID == owner } },
            renewalsOK: grew(#"pairgate_lease_renewals_total{result="ok"}"#),
            renewalsFailed: grew(#"pairgate_lease_renewals_total{result="failed"}"#),
            leasesLost: grew("pairgate_leases_lost_total"), deadlineCloses: grew("pairgate_lease_deadline_closes_total"),
            disconnects: Int(disconnects), logins: logins,
            offline: record.kept.filter { !simulator.stats.isOnline($0.jid) }.map(\.jid)
        )
        say(String(format: "flood over: %d requests in %.1f s", figures.requests, figures.seconds))
        return (figures, FleetInvariants.noDropUnderFlood(observation))
    }

    /// Every sample of a gateway's /metrics, by series (`name{labels}`).
    private static func counters(of gateway: GatewayProcess) async throws -> [String: Double] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: gateway.baseURL + "/metrics"), timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}
