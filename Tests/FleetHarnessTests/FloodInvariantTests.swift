import FleetHarness
import Testing

/// The flood step's verdict: it fails on any sign that a device dropped, or that leases were not
/// renewed, while unauthenticated requests poured in.
@Suite("Fleet invariants: an unauthenticated flood")
struct FloodInvariantTests {
    private let calm = FleetInvariants.FloodObservation(
        requests: 4800, seconds: 12, byStatus: ["200": 2400, "401": 1000, "404": 900, "503": 500],
        devicesHeld: ["a3": 198], renewalsOK: ["a3": 1], renewalsFailed: ["a3": 0], leasesLost: ["a3": 0], deadlineCloses: ["a3": 0],
        disconnects: 0, logins: 0, offline: []
    )

    @Test func aFloodThatDroppedNothingPasses() {
        let check = FleetInvariants.noDropUnderFlood(calm)
        #expect(check.passed)
        #expect(check.detail.hasPrefix("4800 requests in 12.0 s (400/s): 200 ×2400, 401 ×1000, 404 ×900, 503 ×500"))
    }

    @Test func everySignOfADropFails() {
        var broken: [FleetInvariants.FloodObservation] = []
        for mutate: (inout FleetInvariants.FloodObservation) -> Void in [
            { $0.disconnects = 1 }, { $0.logins = 2 }, { $0.offline = ["15550001234:1@s.whatsapp.net"] },
            { $0.renewalsFailed["a3"] = 1 }, { $0.leasesLost["a3"] = 3 }, { $0.deadlineCloses["a3"] = 198 },
            // No renewal ran during the flood: nothing was proven.
            { $0.renewalsOK["a3"] = 0 }, { $0.requests = 0 },
        ] {
            var observation = calm
            mutate(&observation)
            broken.append(observation)
        }
        for observation in broken {
            #expect(!FleetInvariants.noDropUnderFlood(observation).passed)
        }
    }
}
