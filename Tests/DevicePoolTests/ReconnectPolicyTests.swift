import DevicePool
import Foundation
import Testing
import WAClient
import WAWire

@Suite("Reconnect policy table")
struct ReconnectPolicyTests {
    @Test func everyCategoryHasTheDocumentedDecision() {
        var random = SeededRandom(seed: 1)
        let policy = ReconnectPolicy()
        func decide(_ category: DisconnectReason.Category) -> String {
            policy.decide(reason(category), attempt: 0, webVersion: "v", random: &random).description
        }
        #expect(decide(.network) == "backoff")
        #expect(decide(.timeout) == "backoff")
        #expect(decide(.serverError) == "backoff")
        #expect(decide(.keepaliveLost) == "backoff")
        #expect(decide(.restartRequired) == "reconnect_now")
        #expect(decide(.clientOutdated) == "suspend_client_outdated")
        #expect(decide(.replaced) == "suspend_replaced")
        #expect(decide(.temporaryBan) == "suspend_temporary_ban")
        #expect(decide(.loggedOut) == "logged_out")
        #expect(decide(.shutdown) == "stop")
    }

    /// A refusal we do not understand (an unknown `<failure>` reason, stream:error 401 without
    /// device_removed, 516) neither hammers the account nor wipes a link that may still work.
    @Test func aRefusalSuspendsNamingItsCode() throws {
        var random = SeededRandom(seed: 1)
        let refused = try #require(DisconnectReason.Category(rawValue: "refused"))
        let decision = ReconnectPolicy().decide(reason(refused, stage: .login, code: 409), attempt: 4, webVersion: "v", random: &random)
        #expect(decision.description == "suspend_refused")
        guard case .suspend(let suspension) = decision else {
            Issue.record("expected a suspension, got \(decision)")
            return
        }
        #expect(suspension.stored == "refused:409")
        #expect(DeviceState(kind: .suspended, reason: "refused:409", nextAttemptAt: nil) == .suspended(suspension))
        #expect(DeviceState(kind: .suspended, reason: "refused", nextAttemptAt: nil)?.reason == "refused")
    }

    @Test func backoffIsFullJitterUnderACappedExponentialBound() {
        var random = SeededRandom(seed: 3)
        let policy = ReconnectPolicy()
        #expect(policy.upperBound(attempt: 1) == .seconds(2))
        #expect(policy.upperBound(attempt: 2) == .seconds(4))
        #expect(policy.upperBound(attempt: 8) == .seconds(256))
        #expect(policy.upperBound(attempt: 9) == .seconds(300))
        #expect(policy.upperBound(attempt: 1000) == .seconds(300))
        var delays: [Double] = []
        for _ in 0..<2000 {
            let delay = policy.backoffDelay(attempt: 3, random: &random)
            #expect(delay >= .zero && delay <= .seconds(8))
            delays.append(delay.seconds)
        }
        // Full jitter spreads over the whole interval, not around its top.
        #expect(delays.min()! < 0.5)
        #expect(delays.max()! > 7.5)
    }
}
