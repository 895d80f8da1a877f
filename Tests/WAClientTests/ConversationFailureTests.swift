import Foundation
import Testing
@testable import WAClient
@testable import WASim
import WAWire

@Suite("Conversation: failures, stream errors and faults")
struct ConversationFailureTests {
    /// How a login refused with `<failure reason=N>` ends.
    @Test(arguments: [
        (401, DisconnectReason.Category.loggedOut, true),
        (402, .temporaryBan, false),
        (403, .loggedOut, true),
        (405, .clientOutdated, false),
        (406, .loggedOut, true),
        (500, .serverError, false),
        (503, .serverError, false),
    ])
    func aLoginFailureIsClassified(reason: Int, category: DisconnectReason.Category, loggedOut: Bool) throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired, faults: SimConnectionFaults(loginFailure: reason))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .login)
        #expect(ending.reason.category == category)
        #expect(ending.reason.code == reason)
        #expect(ending.loggedOut == loggedOut)
        #expect(link.online == nil)
    }

    /// Reasons whatsmeow does not know end its reconnect loop; here they suspend the device
    /// (`refused`) instead of backing off against the account forever.
    @Test(arguments: [400, 409, 415, 418, 501])
    func aLoginFailureWithAnUnknownReasonIsARefusal(reason: Int) throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired, faults: SimConnectionFaults(loginFailure: reason))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .login)
        #expect(ending.reason.category.rawValue == "refused")
        #expect(ending.reason.code == reason)
        #expect(!ending.loggedOut)
    }

    @Test func clientOutdatedNamesTheConfiguredVersion() throws {
        let conversation = Conversation()
        conversation.clientConfiguration.payload.version = WebClientVersion(primary: 2, secondary: 3000, tertiary: 1_000_000_001)
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired, faults: SimConnectionFaults(loginFailure: 405))
        let ending = try #require(link.ending)
        #expect(ending.reason.category == .clientOutdated)
        #expect(ending.reason.detail.contains("2.3000.1000000001"))
    }

    /// How an online connection ends on each stream:error the simulator can send.
    @Test(arguments: [
        (SimStreamError.restartRequired, DisconnectReason.Category.restartRequired, Int?.some(515), false),
        (.serviceUnavailable, .serverError, 503, false),
        (.replaced, .replaced, nil, false),
        (.deviceRemoved, .loggedOut, 401, true),
        (.code(516), .refused, 516, false),
        (.code(401), .refused, 401, false),
        (.code(409), .other, 409, false),
    ])
    func aStreamErrorIsClassified(error: SimStreamError, category: DisconnectReason.Category, code: Int?, loggedOut: Bool) throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired)
        conversation.server(link, .delivered(.fault(.streamError(error)), now: conversation.now))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .stream)
        #expect(ending.reason.category == category)
        #expect(ending.reason.code == code)
        #expect(ending.loggedOut == loggedOut)
    }

    @Test func aTemporaryBanCarriesItsEnd() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired)
        conversation.serverSends(link, Node("failure", ["reason": "402", "code": "101", "expire": "3600"]))
        let ending = try #require(link.ending)
        #expect(ending.reason.category == .temporaryBan)
        #expect(ending.reason.banExpiresAt == conversation.now.addingTimeInterval(3600))
        #expect(ending.reason.detail.contains("101"))
    }

    @Test func theEndOfTheStreamIsANetworkEnding() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired)
        conversation.serverSends(link, Node("xmlstreamend"))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .stream)
        #expect(ending.reason.category == .network)
    }

    @Test func aDroppedSocketIsANetworkEnding() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired)
        conversation.server(link, .delivered(.fault(.drop), now: conversation.now))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .stream)
        #expect(ending.reason.category == .network)
    }

    @Test func aConnectionDroppedMidHandshakeEndsInTheNoiseStage() throws {
        let conversation = Conversation()
        let link = conversation.connect(
            conversation.freshCredentials(), intent: .pair(.qr), faults: SimConnectionFaults(dropMidHandshake: true)
        )
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .noise)
        #expect(ending.reason.category == .network)
    }

    @Test func aRefusedConnectionEndsInTheNoiseStage() throws {
        let conversation = Conversation()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr), faults: SimConnectionFaults(refuse: true))
        #expect(link.ending?.reason.stage == .noise)
    }

    @Test func aServerHelloLaterThanTheHandshakeTimeoutEndsTheConnection() throws {
        let conversation = Conversation()
        let link = conversation.connect(
            conversation.freshCredentials(), intent: .pair(.qr), faults: SimConnectionFaults(handshakeDelay: .seconds(25))
        )
        conversation.advance(by: .seconds(20))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .noise)
        #expect(ending.reason.category == .timeout)
    }

    @Test func aSlowServerHelloWithinTheTimeoutStillPairs() throws {
        let conversation = Conversation()
        let link = conversation.connect(
            conversation.freshCredentials(), intent: .pair(.qr), faults: SimConnectionFaults(handshakeDelay: .seconds(5))
        )
        #expect(link.qrCodes.isEmpty)
        conversation.advance(by: .seconds(5))
        #expect(link.qrCodes.count == 1)
    }

    @Test func anUntrustedCertificateIsRejected() throws {
        let conversation = Conversation()
        conversation.clientConfiguration.trustedRootKey = CertificateChain.whatsAppRootKey
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .certificate)
        #expect(ending.reason.category == .certificateRejected)
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func anExpiredCertificateIsRejected() throws {
        let conversation = Conversation()
        conversation.advance(by: .seconds(2 * 86400))
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        #expect(link.ending?.reason.category == .certificateRejected)
        #expect(link.ending?.reason.detail.contains("expired") == true)
    }

    @Test func aLocalCloseEndsWithTheGivenReasonAndAnswersWaitingRequests() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired, faults: SimConnectionFaults(keepalive: .ignore))
        conversation.client(link, .request(ClientRequestID(1), .iq(Node("iq", ["xmlns": "w:p", "type": "get"]), timeout: nil)))
        let reason = DisconnectReason(stage: .local, category: .shutdown, detail: "lease lost")
        conversation.client(link, .close(reason))
        #expect(link.completions[ClientRequestID(1)] == .failure(ClientRequestError(.connectionClosed)))
        #expect(link.ending?.reason == reason)
        #expect(conversation.world.liveConnections.isEmpty)
    }
}
