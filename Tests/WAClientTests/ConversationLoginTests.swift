import Foundation
import Testing
@testable import WAClient
@testable import WASim
import WAWire

@Suite("Conversation: login, prekeys, replacement, unlink and logout")
struct ConversationLoginTests {
    @Test func theFirstLoginAfterPairingUploads812PreKeysThenComesOnline() throws {
        let conversation = Conversation()
        let credentials = try conversation.pairByQR()
        #expect(credentials.nextPreKeyID == 1)

        let link = conversation.login(credentials)
        #expect(link.eventNames == ["credentialsUpdated", "online"])
        let updated = try #require(link.updatedCredentials.first)
        #expect(updated.nextPreKeyID == 813)
        let online = try #require(link.online)
        let account = try #require(conversation.world.account(phoneNumber: "15551234567"))
        #expect(online.jid == "15551234567:1@s.whatsapp.net")
        #expect(online.lid == "\(account.lidUser):1@lid")
        #expect(abs(online.serverTimeOffset.seconds) < 1)
        let jid = try #require(JID(parsing: online.jid))
        #expect(conversation.world.device(jid)?.uploadedPreKeys == 812)
        #expect(conversation.world.loggedInConnections(of: jid) == [link.server.id])
        #expect(link.client.phase == .online)
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func laterLoginsUploadNothingWhileTheServerHoldsEnough() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let first = conversation.login(paired)
        let credentials = try #require(first.updatedCredentials.last)
        conversation.client(first, .close(DisconnectReason(stage: .local, category: .shutdown, detail: "test")))

        let second = conversation.login(credentials)
        #expect(second.eventNames == ["online"])
        #expect(second.client.credentials.nextPreKeyID == 813)
        let jid = try #require(credentials.account.flatMap { JID(parsing: $0.jid) })
        #expect(conversation.world.device(jid)?.uploadedPreKeys == 812)
    }

    @Test func aLowPreKeyNotificationRefillsFiftyKeysWhileOnline() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired)
        let jid = try #require(paired.account.flatMap { JID(parsing: $0.jid) })

        #expect(conversation.world.handOutPreKeys(of: jid, count: 800) == 12)
        conversation.settle()
        #expect(link.updatedCredentials.count == 1)

        #expect(conversation.world.handOutPreKeys(of: jid, count: 9) == 3)
        conversation.settle()
        #expect(link.updatedCredentials.count == 2)
        #expect(link.updatedCredentials.last?.nextPreKeyID == 863)
        #expect(conversation.world.device(jid)?.availablePreKeys == 53)
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func aLoginFindingFewPreKeysRefillsFiftyNotTheInitialBatch() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let first = conversation.login(paired)
        let credentials = try #require(first.updatedCredentials.last)
        conversation.client(first, .close(DisconnectReason(stage: .local, category: .shutdown, detail: "test")))
        let jid = try #require(credentials.account.flatMap { JID(parsing: $0.jid) })
        conversation.world.handOutPreKeys(of: jid, count: 812)

        let second = conversation.login(credentials)
        #expect(second.eventNames == ["credentialsUpdated", "online"])
        #expect(second.client.credentials.nextPreKeyID == 863)
        #expect(conversation.world.device(jid)?.availablePreKeys == 50)
    }

    @Test func aSecondLoginReplacesTheFirstConnection() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let first = conversation.login(paired)
        let credentials = try #require(first.updatedCredentials.last)
        let jid = try #require(credentials.account.flatMap { JID(parsing: $0.jid) })

        let second = conversation.login(credentials)
        let ending = try #require(first.ending)
        #expect(ending.reason.stage == .stream)
        #expect(ending.reason.category == .replaced)
        #expect(!ending.loggedOut)
        #expect(second.online != nil)
        #expect(second.ending == nil)
        #expect(conversation.world.loggedInConnections(of: jid) == [second.server.id])
        #expect(conversation.world.maximumConcurrentLogins(of: jid) == 2)
    }

    @Test func unlinkingWhileOnlineLogsTheDeviceOutAndTheNextLoginIsRefused() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired)
        let credentials = try #require(link.updatedCredentials.last)
        let jid = try #require(credentials.account.flatMap { JID(parsing: $0.jid) })

        #expect(conversation.world.unlink(jid))
        conversation.settle()
        let ending = try #require(link.ending)
        #expect(ending.loggedOut)
        #expect(ending.reason.stage == .stream)
        #expect(ending.reason.category == .loggedOut)
        #expect(ending.reason.code == 401)

        let again = conversation.login(credentials)
        let refused = try #require(again.ending)
        #expect(refused.loggedOut)
        #expect(refused.reason.stage == .login)
        #expect(refused.reason.code == 401)
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func logoutRemovesTheCompanionAndEndsLoggedOut() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired)
        let jid = try #require(paired.account.flatMap { JID(parsing: $0.jid) })

        conversation.client(link, .request(ClientRequestID(1), .logout))
        guard case .success = link.completions[ClientRequestID(1)] else {
            Issue.record("logout did not succeed: \(String(describing: link.completions[ClientRequestID(1)]))")
            return
        }
        let ending = try #require(link.ending)
        #expect(ending.loggedOut)
        #expect(ending.reason.stage == .local)
        #expect(conversation.world.device(jid) == nil)
        #expect(conversation.world.violations.isEmpty)

        conversation.client(link, .request(ClientRequestID(2), .logout))
        #expect(link.completions[ClientRequestID(2)] == .failure(ClientRequestError(.connectionClosed)))
    }

    @Test func logoutIsRefusedBeforeTheDeviceIsOnline() throws {
        let conversation = Conversation()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        conversation.client(link, .request(ClientRequestID(1), .logout))
        #expect(link.completions[ClientRequestID(1)] == .failure(ClientRequestError(.notConnected)))
        #expect(link.ending == nil)
    }

    @Test func aGenericIQIsCorrelatedWithItsAnswer() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired)

        conversation.client(link, .request(ClientRequestID(7), .iq(Node("iq", ["xmlns": "w:p", "type": "get"]), timeout: nil)))
        let answer = try #require(try link.completions[ClientRequestID(7)]?.get())
        #expect(answer.attribute("type") == "result")

        conversation.client(link, .request(ClientRequestID(8), .iq(Node("iq", ["xmlns": "w:g2", "type": "get"]), timeout: nil)))
        #expect(link.completions[ClientRequestID(8)] == .failure(
            ClientRequestError(.errorResponse, errorCode: 501, text: "feature-not-implemented")
        ))
    }

    @Test func aGenericIQTimesOutAfterItsOwnTimeout() throws {
        let conversation = Conversation()
        let paired = try conversation.pairByQR()
        let link = conversation.login(paired, faults: SimConnectionFaults(keepalive: .ignore))

        let ping = Node("iq", ["xmlns": "w:p", "type": "get"])
        conversation.client(link, .request(ClientRequestID(3), .iq(ping, timeout: .seconds(5))))
        conversation.advance(by: .seconds(4))
        #expect(link.completions[ClientRequestID(3)] == nil)
        conversation.advance(by: .seconds(1))
        #expect(link.completions[ClientRequestID(3)] == .failure(ClientRequestError(.timedOut)))
        #expect(link.ending == nil)
    }

    @Test func aLoginWithAnotherNoiseKeyIsRefused() throws {
        let conversation = Conversation()
        var credentials = try conversation.pairByQR()
        credentials.noiseKey = conversation.freshCredentials().noiseKey
        let link = conversation.login(credentials)
        let ending = try #require(link.ending)
        #expect(ending.loggedOut)
        #expect(ending.reason.code == 401)
    }

    @Test func aLoginWithoutPairedCredentialsNeverReachesTheServer() throws {
        let conversation = Conversation()
        let link = conversation.login(conversation.freshCredentials())
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .local)
        #expect(link.clientWrites.isEmpty)
    }
}
