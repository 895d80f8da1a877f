import FleetHarness
import Foundation
import Testing

/// The scale-out scenario's verdicts must be able to say FAIL: uneven spreads, devices left on a
/// drained instance, slow or lost moves, and reconnects beyond one per move.
@Suite("Scale-out invariants")
struct ScaleOutInvariantsTests {
    @Test func aSpreadPassesWithinTheToleranceAndFailsOutsideItOrWithAStray() {
        let three = ["a1", "b1", "c1"]
        #expect(FleetInvariants.spread("s", held: ["a1": 334, "b1": 333, "c1": 333], instances: three, total: 1000).passed)
        #expect(FleetInvariants.spread("s", held: ["a1": 365, "b1": 301, "c1": 334], instances: three, total: 1000).passed)
        let uneven = FleetInvariants.spread("s", held: ["a1": 400, "b1": 300, "c1": 300], instances: three, total: 1000)
        #expect(!uneven.passed)
        #expect(uneven.detail.contains("outside: a1"))
        let stray = FleetInvariants.spread("s", held: ["a1": 500, "c1": 499, "b1": 1], instances: ["a1", "c1"], total: 1000)
        #expect(!stray.passed)
        #expect(stray.detail.contains("still held by b1"))
    }

    @Test func movesPassOnlyWhenEveryDeviceCameBackUnderTheBound() {
        let quick = [FleetInvariants.Move(deviceID: UUID(), from: "a1", offlineSeconds: 0.4), .init(deviceID: UUID(), from: "b1", offlineSeconds: 1.2)]
        #expect(FleetInvariants.offline(quick, bound: 5).passed)
        #expect(!FleetInvariants.offline(quick, bound: 1).passed)
        #expect(!FleetInvariants.offline(quick + [.init(deviceID: UUID(), from: "a1", offlineSeconds: nil)], bound: 5).passed)
        // A scenario that moved nothing proved nothing.
        #expect(!FleetInvariants.offline([], bound: 5).passed)
    }

    @Test func aLoginBeyondOnePerMoveFails() {
        #expect(FleetInvariants.loginsPerMove(logins: ["x": 1, "y": 2, "z": 3], movesByJID: ["y": 1, "z": 2]).passed)
        let extra = FleetInvariants.loginsPerMove(logins: ["x": 2, "y": 2], movesByJID: ["y": 1])
        #expect(!extra.passed)
        #expect(extra.detail.contains("e.g. x"))
    }
}
