import Foundation
import Testing
@testable import WAClient
@testable import WASim
import WAWire

@Suite("Conversation: keepalive")
struct ConversationKeepaliveTests {
    /// An online link whose pings the simulator answers according to `keepalive`.
    private func onlineLink(_ keepalive: SimKeepaliveFault) throws -> (Conversation, Conversation.Link) {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired, faults: SimConnectionFaults(keepalive: keepalive))
        #expect(link.online != nil)
        return (conversation, link)
    }

    @Test func pingsGoOutEveryTwentyToThirtySecondsAndKeepTheDeviceOnline() throws {
        let (conversation, link) = try onlineLink(.answer)
        var intervals: [TimeInterval] = []
        var last = conversation.now
        for _ in 0..<20 {
            let (timer, deadline) = try #require(conversation.clientTimers(link).first { $0.0 == .keepalive })
            #expect(timer == .keepalive)
            intervals.append(deadline.timeIntervalSince(last))
            conversation.advance(by: .seconds(deadline.timeIntervalSince(conversation.now)))
            last = conversation.now
        }
        #expect(intervals.allSatisfy { $0 >= 20 && $0 < 30 })
        #expect(Set(intervals.map { Int($0) }).count > 3)
        #expect(link.eventNames == ["credentialsUpdated", "online"])
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func aMissingAnswerIsReportedAndAnAnswerLaterRestoresIt() throws {
        let (conversation, link) = try onlineLink(.ignore)
        conversation.advance(by: .seconds(40))
        guard case .keepaliveLost(let failures, let lastSuccess) = try #require(link.events.last) else {
            Issue.record("expected keepaliveLost, got \(link.eventNames)")
            return
        }
        #expect(failures == 1)
        #expect(lastSuccess == nil)

        conversation.server(link, .delivered(.fault(.keepalive(.answer)), now: conversation.now))
        conversation.advance(by: .seconds(40))
        #expect(link.eventNames.suffix(2) == ["keepaliveLost", "keepaliveRestored"])
        #expect(link.ending == nil)
    }

    @Test func anAnswerSlowerThanTheDeadlineCountsAsAFailure() throws {
        let (conversation, link) = try onlineLink(.delay(.seconds(12)))
        conversation.advance(by: .seconds(40))
        #expect(link.eventNames.contains("keepaliveLost"))
        // The late answer is for an id the client gave up on: it is dropped, not an error on either side.
        #expect(link.ending == nil)
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func anAnswerWithinTheDeadlineIsFine() throws {
        let (conversation, link) = try onlineLink(.delay(.seconds(5)))
        conversation.advance(by: .seconds(300))
        #expect(!link.eventNames.contains("keepaliveLost"))
        #expect(link.ending == nil)
        // Every answered ping reports its round trip: the simulator's 5 s delay.
        let roundTrips = link.keepaliveRoundTrips
        #expect(roundTrips.count >= 9)
        #expect(roundTrips.allSatisfy { $0 >= .seconds(5) && $0 < .seconds(6) })
    }

    @Test func threeMinutesWithoutAnAnswerEndTheConnection() throws {
        let (conversation, link) = try onlineLink(.ignore)
        conversation.advance(by: .seconds(170))
        #expect(link.ending == nil)
        conversation.advance(by: .seconds(60))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .keepalive)
        #expect(ending.reason.category == .keepaliveLost)
        let lost = link.events.filter { if case .keepaliveLost = $0 { true } else { false } }
        #expect(lost.count >= 5)
    }

    @Test func theDurationsAreConfigurable() throws {
        let conversation = Conversation()
        conversation.clientConfiguration.keepalive.minimumInterval = .seconds(2)
        conversation.clientConfiguration.keepalive.maximumInterval = .seconds(3)
        conversation.clientConfiguration.keepalive.responseDeadline = .seconds(1)
        conversation.clientConfiguration.keepalive.maximumFailureTime = .seconds(10)
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired, faults: SimConnectionFaults(keepalive: .ignore))
        conversation.advance(by: .seconds(9))
        #expect(link.ending == nil)
        conversation.advance(by: .seconds(6))
        #expect(link.ending?.reason.category == .keepaliveLost)
    }

    @Test func keepaliveRunsDuringPairingToo() throws {
        let conversation = Conversation()
        let link = conversation.connect(
            conversation.freshCredentials(), intent: .pair(.qr), faults: SimConnectionFaults(keepalive: .ignore)
        )
        conversation.advance(by: .seconds(45))
        #expect(link.eventNames.contains("keepaliveLost"))
    }
}
