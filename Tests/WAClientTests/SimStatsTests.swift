import Foundation
import Testing
import WAWire
@testable import WASim

@Suite("Simulator stats")
struct SimStatsTests {
    private let first = JID(user: "15550001234", device: 1, server: .whatsApp)
    private let second = JID(user: "15550001234", device: 2, server: .whatsApp)

    private func connection(_ number: UInt64) -> SimConnectionID { SimConnectionID(number) }

    @Test func countsConcurrentLoginsPerDeviceAndKeepsTheMaximum() {
        let stats = SimStats()
        for number in UInt64(1)...4 { stats.record(.connectionOpened(connection(number))) }
        stats.record(.loggedIn(connection(1), device: first))
        stats.record(.loggedIn(connection(2), device: second))
        stats.record(.connectionClosed(connection(1)))
        stats.record(.loggedIn(connection(3), device: first))
        var snapshot = stats.snapshot(includeDevices: true)
        #expect(snapshot.maxConcurrentPerDevice == 1)
        #expect(snapshot.devicesOverOne.isEmpty)
        #expect(snapshot.liveDevices == 2)
        #expect(stats.isOnline(first.description))

        // A second login of device 2 while its first connection lives breaks the fleet invariant.
        stats.record(.loggedIn(connection(4), device: second))
        stats.record(.connectionClosed(connection(2)))
        snapshot = stats.snapshot(includeDevices: true)
        #expect(snapshot.maxConcurrentPerDevice == 2)
        #expect(snapshot.devicesOverOne == [second.description])
        #expect(snapshot.devices?.map { [$0.jid, "\($0.live)", "\($0.maximum)", "\($0.logins)"] } == [
            [first.description, "1", "1", "2"],
            [second.description, "1", "2", "2"],
        ])
        #expect(snapshot.liveConnections == 2)
        #expect(snapshot.maxLiveConnections == 4)
    }

    @Test func devicesAreListedOnlyWhenAskedFor() {
        let stats = SimStats()
        stats.record(.loggedIn(connection(1), device: first))
        #expect(stats.snapshot().devices == nil)
    }

    @Test func countsHandshakesRefsPairingsRefusalsAndFaultsByKind() {
        let stats = SimStats()
        stats.record(.handshakeCompleted(connection(1), isRegistration: true))
        stats.record(.handshakeCompleted(connection(2), isRegistration: false))
        stats.record(.refsServed(connection(1), count: 6))
        stats.record(.paired(connection(1), device: first))
        stats.record(.loginRefused(connection(2), reason: 405))
        stats.record(.loginRefused(connection(3), reason: 401))
        stats.record(.loginRefused(connection(4), reason: 401))
        stats.record(.faultApplied(connection(2), "login_failure_405"))
        stats.record(.faultApplied(connection(5), "stream_error_replaced"))
        stats.record(.faultApplied(connection(6), "something_new"))
        stats.record(.unlinked(device: first))
        let snapshot = stats.snapshot()
        #expect(snapshot.handshakes == 2)
        #expect(snapshot.registrations == 1)
        #expect(snapshot.refsServed == 6)
        #expect(snapshot.pairingsCompleted == 1)
        #expect(snapshot.loginsRefused == ["405": 1, "401": 2])
        #expect(snapshot.faultsInjected == ["failure_405": 1, "conflict_replaced": 1, "something_new": 1])
        #expect(snapshot.unlinks == 1)
    }

    @Test func keepsTheFirstViolationsWithDetailAndCountsAll() {
        let stats = SimStats()
        let at = Date(timeIntervalSince1970: 1_790_000_000)
        for index in 0..<(SimStats.keptViolations + 5) {
            stats.record(.violation(SimViolation(
                connection: connection(UInt64(index)), device: index == 0 ? first.description : nil,
                kind: index == 0 ? .badSignature : .missingAnswer, detail: "detail \(index)", at: at
            )))
        }
        let snapshot = stats.snapshot()
        #expect(snapshot.violationCount == SimStats.keptViolations + 5)
        #expect(snapshot.violations.count == SimStats.keptViolations)
        #expect(snapshot.violationsByKind == ["bad_signature": 1, "missing_answer": SimStats.keptViolations + 4])
        #expect(snapshot.violations.first?.device == first.description)
        #expect(snapshot.violations.first?.kind == "bad_signature")
        #expect(snapshot.violations.first?.detail == "detail 0")
    }

    @Test func staysConsistentUnderConcurrentUpdates() async {
        let stats = SimStats()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for round in 0..<500 {
                        let id = SimConnectionID(UInt64(worker * 1000 + round))
                        let device = JID(user: "1555000\(worker)", device: UInt16(round + 1), server: .whatsApp)
                        stats.record(.connectionOpened(id))
                        stats.record(.loggedIn(id, device: device))
                        stats.record(.connectionClosed(id))
                    }
                }
            }
        }
        let snapshot = stats.snapshot()
        #expect(snapshot.logins == 4000)
        #expect(snapshot.liveConnections == 0)
        #expect(snapshot.liveDevices == 0)
        #expect(snapshot.maxConcurrentPerDevice == 1)
    }
}
