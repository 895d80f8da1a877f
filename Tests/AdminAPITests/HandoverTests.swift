import AdminAPI
import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import ServiceLifecycle
import Testing
import WAClient

/// Scale-out that rebalances, on two real gateways sharing a real PostgreSQL: an instance above
/// its fair share hands devices to the peer below it, which claims them at once on the fleet
/// bus's word (its claim poll never runs in these tests: the clock stays short of it); a drain
/// and a shutdown hand every device over the same way.
@Suite("Handovers between two gateways", .requiresDatabase, .timeLimit(.minutes(2)))
struct HandoverTests {
    private static func rebalancing(_ configuration: inout GatewayConfiguration) {
        configuration.pool.handoversPerMinute = 600
        configuration.pool.handoverMaxFraction = 0.5
        configuration.pool.rebalanceInterval = .seconds(5)
        configuration.pool.instanceLiveness = .seconds(600)
    }

    @Test func devicesAboveTheFairShareMoveToThePeerAtOnceAndStayThere() async throws {
        // Four pairings of one tenant back to back: past the default burst of three.
        try await APIHarness.run(instances: ["a", "b"], configure: { $0.pairBurst = 10 }, configureGateway: Self.rebalancing) { h in
            var sessions: [UUID: ScriptedSession] = [:]
            for index in 0..<4 {
                let (id, session) = try await h.connectedDevice(h.acme, jid: "1555000000\(index):1@s.whatsapp.net")
                sessions[id] = session
            }
            let before = h.nodes[1].upstream.sessionCount
            // One rebalancing round (5 s), well short of the 10 s claim poll: a holds 4 of 4, its share is 2.
            h.clock.advance(by: .seconds(5))
            try await h.bringOnline(node: 1, count: 2, beyond: before)
            let owners = try await h.owners()
            #expect(owners["a"]?.count == 2)
            #expect(owners["b"]?.count == 2)
            for id in owners["b"] ?? [] {
                // Closed once on a with its disconnect recorded (after its pairing's 515), then one connection on b.
                #expect(sessions[id]?.closeReason?.category == .shutdown)
                let recorded = try await h.pool.query(
                    "SELECT instance, category FROM disconnects WHERE device_id = $1 ORDER BY id", [id]
                ).map { "\(try $0.decode(0, as: String.self)):\(try $0.decode(1, as: String.self))" }
                #expect(recorded.filter { $0.hasSuffix(":shutdown") } == ["a:shutdown"])
            }
            for id in owners["a"] ?? [] { #expect(sessions[id]?.closeReason == nil) }

            // At their shares, later rounds move nothing.
            h.clock.advance(by: .seconds(5))
            h.clock.advance(by: .seconds(4))
            try await Task.sleep(for: .milliseconds(300))
            #expect(h.nodes[1].upstream.sessionCount == before + 2)
            #expect(try await h.owners().mapValues(\.count) == ["a": 2, "b": 2])
        }
    }

    @Test func aDrainAskedOverTheBusHandsEveryDeviceToThePeer() async throws {
        try await APIHarness.run(instances: ["a", "b"], configureGateway: Self.rebalancing) { h in
            for index in 0..<3 {
                _ = try await h.connectedDevice(h.acme, jid: "1555100000\(index):1@s.whatsapp.net")
            }
            let before = h.nodes[1].upstream.sessionCount
            try await FleetBus.requestDrain(of: "a", pool: h.pool)
            try await h.bringOnline(node: 1, count: 3, beyond: before)
            #expect(try await h.owners().mapValues(\.count) == ["b": 3])
            #expect(h.node.supervisor.isDraining)
            let registered = try await h.pool.query("SELECT draining FROM instances WHERE id = 'a'")
            #expect(try registered.first?.decode(0, as: Bool.self) == true)
            // A draining instance takes nothing back, even past a claim poll and a rebalancing round.
            h.clock.advance(by: .seconds(11))
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await h.owners().mapValues(\.count) == ["b": 3])
        }
    }

    @Test func aShutdownHandsEveryDeviceToThePeerWithinItsBound() async throws {
        try await APIHarness.run(instances: ["a", "b"], configureGateway: Self.rebalancing) { h in
            for index in 0..<3 {
                _ = try await h.connectedDevice(h.acme, jid: "1555200000\(index):1@s.whatsapp.net")
            }
            let before = h.nodes[1].upstream.sessionCount
            // SIGTERM: HTTP, then the pool, then the fleet bus, which announces the last devices.
            await h.node.services.triggerGracefulShutdown()
            // a plans the drain within 2 s of the manual clock, which bringOnline moves for b's
            // ramp: on a loaded machine the clock overtook a slow fleet read, the devices went
            // unannounced, and b (its claim poll never due) never took them. The first handed-over
            // connection (b's ramp starts it at once) shows the plan was made; only then does the
            // clock move.
            try await eventually("the first handed-over connection on b") { h.nodes[1].upstream.sessionCount > before }
            try await h.bringOnline(node: 1, count: 3, beyond: before)
            #expect(try await h.owners().mapValues(\.count) == ["b": 3])
            let handed = try await h.pool.query(
                "SELECT count(*)::bigint FROM disconnects WHERE instance = 'a' AND category = 'shutdown'"
            )[0].decode(0, as: Int.self)
            #expect(handed == 3)
        }
    }
}

extension APIHarness {
    /// Devices online with a live lease, by owner.
    fileprivate func owners() async throws -> [String: [UUID]] {
        let rows = try await pool.query(
            "SELECT lease_owner, id FROM devices WHERE state = 'online' AND lease_expires_at > now() ORDER BY id"
        )
        var owners: [String: [UUID]] = [:]
        for row in rows { owners[try row.decode(0, as: String.self), default: []].append(try row.decode(1)) }
        return owners
    }

    /// Waits for `count` new upstream connections on `node` beyond the first `beyond`, and lets
    /// each log in. The new owner starts handed-over devices at the ramp's pace on the manual
    /// clock, so the clock moves in steps of 5 ms meanwhile (a few tens of ms in all).
    fileprivate func bringOnline(node: Int, count: Int, beyond: Int) async throws {
        // The node's earlier connections were taken off the stream by whoever made them.
        var sessions = nodes[node].upstream.sessions.makeAsyncIterator()
        for index in 0..<count {
            try await eventually("handed-over connection \(index + 1) of \(count) on \(nodes[node].name)", pause: .milliseconds(10)) {
                if nodes[node].upstream.sessionCount > beyond + index { return true }
                clock.advance(by: .milliseconds(5))
                return false
            }
            let session = try #require(await sessions.next())
            #expect(session.intent == .login)
            session.emit(.online(OnlineInfo(jid: session.credentials.account?.jid ?? "", lid: nil, serverTimeOffset: .zero)))
        }
        try await eventually("handed-over devices online on \(nodes[node].name)") {
            try await owners()[nodes[node].name]?.count ?? 0 >= count
        }
    }
}
