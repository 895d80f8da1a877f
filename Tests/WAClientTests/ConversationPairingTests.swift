import Foundation
import Testing
import WAClient
import WASim
import WAWire

@Suite("Conversation: QR pairing")
struct ConversationPairingTests {
    @Test func qrPairingLinksTheDeviceThenTheServerAsksForARestart() throws {
        let conversation = Conversation()
        let account = conversation.addAccount()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))

        #expect(link.eventNames == ["qr"])
        #expect(link.qrLifetimes == [.seconds(60)])
        let qr = try PairingQR.parse(try #require(link.qrCodes.first))
        #expect(qr.platform == .otherWebClient)

        try conversation.world.scan(link.qrCodes[0], phoneNumber: account.phoneNumber)
        conversation.settle()

        #expect(link.eventNames == ["qr", "paired", "disconnected"])
        let ending = try #require(link.ending)
        #expect(ending.reason.category == .restartRequired)
        #expect(ending.reason.code == 515)
        let credentials = link.client.credentials
        let paired = try #require(credentials.account)
        #expect(paired.jid == "\(account.phoneNumber):1@s.whatsapp.net")
        #expect(paired.lid == "\(account.lidUser):1@lid")
        #expect(paired.platform == "android")
        #expect(link.paired == paired)
        let jid = try #require(JID(parsing: paired.jid))
        let device = try #require(conversation.world.device(jid))
        #expect(device.noisePublicKey == (try Curve25519KeyPair(privateKey: credentials.noiseKey)).publicKey)
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func qrCodesRotateAfterSixtyThenTwentySecondsAndEndWhenTheRefsRunOut() throws {
        let conversation = Conversation()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        #expect(link.qrCodes.count == 1)

        conversation.advance(by: .seconds(59))
        #expect(link.qrCodes.count == 1)
        conversation.advance(by: .seconds(1))
        #expect(link.qrCodes.count == 2)
        #expect(link.qrLifetimes.last == .seconds(20))
        conversation.advance(by: .seconds(20 * 4))
        #expect(link.qrCodes.count == 6)
        #expect(Set(link.qrCodes).count == 6)
        #expect(link.ending == nil)

        conversation.advance(by: .seconds(20))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .pairing)
        #expect(ending.reason.category == .pairingTimeout)
        #expect(link.clientClosed)
        #expect(conversation.world.liveConnections.isEmpty)
        #expect(conversation.world.violations.isEmpty)
    }
}
