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

    @Test func aScanOfALaterRefPairsAndAnExpiredRefIsRefused() throws {
        let conversation = Conversation()
        let account = conversation.addAccount(businessName: "Acme Bakery")
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        conversation.advance(by: .seconds(80))
        #expect(link.qrCodes.count == 3)

        #expect(throws: SimWorldError(.unknownRef)) {
            try conversation.world.scan(link.qrCodes[0], phoneNumber: account.phoneNumber)
        }
        try conversation.world.scan(link.qrCodes[2], phoneNumber: account.phoneNumber)
        conversation.settle()
        #expect(link.paired?.businessName == "Acme Bakery")
        #expect(link.ending?.reason.category == .restartRequired)
    }

    @Test func companionRegistrationRefreshRotatesTheSecretAndReRendersTheCurrentRef() throws {
        let conversation = Conversation()
        conversation.serverConfiguration.refreshRegistrationOnScan = true
        let account = conversation.addAccount()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        conversation.advance(by: .seconds(15))

        try conversation.world.scan(link.qrCodes[0], phoneNumber: account.phoneNumber)
        conversation.settle()
        #expect(link.eventNames == ["qr", "qr"])
        let before = try PairingQR.parse(link.qrCodes[0])
        let after = try PairingQR.parse(link.qrCodes[1])
        #expect(after.ref == before.ref)
        #expect(after.advSecret != before.advSecret)
        #expect(after.noisePublicKey == before.noisePublicKey)
        #expect(link.qrLifetimes.last == .seconds(45))
        #expect(link.client.credentials.advSecret == after.advSecret)

        // Scanning the stale picture again fails the way the phone would report it.
        try conversation.world.scan(link.qrCodes[0], phoneNumber: account.phoneNumber)
        conversation.settle()
        #expect(link.paired == nil)
        #expect(conversation.world.violations.map(\.kind) == [.wrongOrder])

        try conversation.world.scan(link.qrCodes[1], phoneNumber: account.phoneNumber)
        conversation.settle()
        #expect(link.paired != nil)
        #expect(link.ending?.reason.category == .restartRequired)
    }

    @Test func aPairSuccessWithABadHMACIsAnsweredWithAnErrorAndEndsThePairing() throws {
        let conversation = Conversation()
        let account = conversation.addAccount()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        let qr = try PairingQR.parse(link.qrCodes[0])
        // The phone read a different ADV secret: its HMAC cannot match ours.
        let misread = try PairingQR(
            ref: qr.ref, noisePublicKey: qr.noisePublicKey, identityPublicKey: qr.identityPublicKey,
            advSecret: [UInt8](repeating: 7, count: 32), platform: qr.platform
        )
        try conversation.world.scan(misread.string, phoneNumber: account.phoneNumber)
        conversation.settle()

        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .pairing)
        #expect(ending.reason.category == .pairingFailed)
        #expect(ending.reason.detail.contains("adv_hmac_mismatch"))
        #expect(link.paired == nil)
        #expect(conversation.world.devices.isEmpty)
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func aPairSuccessWithABadAccountSignatureIsAnsweredWithAnErrorAndEndsThePairing() throws {
        let conversation = Conversation()
        let account = conversation.addAccount()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        let qr = try PairingQR.parse(link.qrCodes[0])
        // The phone signs the identity it read, which is not ours: our signature check fails.
        let misread = try PairingQR(
            ref: qr.ref, noisePublicKey: qr.noisePublicKey, identityPublicKey: Curve25519KeyPair.generate().publicKey,
            advSecret: qr.advSecret, platform: qr.platform
        )
        try conversation.world.scan(misread.string, phoneNumber: account.phoneNumber)
        conversation.settle()

        let ending = try #require(link.ending)
        #expect(ending.reason.category == .pairingFailed)
        #expect(ending.reason.detail.contains("adv_account_signature_mismatch"))
        #expect(conversation.world.devices.isEmpty)
        // The simulator notes that the QR showed keys that are not the registration's.
        #expect(conversation.world.violations.map(\.kind) == [.badSignature])
    }

    @Test func theReplyWaitsForTheConsumerToPersistTheCredentials() throws {
        let conversation = Conversation()
        conversation.autoConfirm = nil
        let account = conversation.addAccount()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        try conversation.world.scan(link.qrCodes[0], phoneNumber: account.phoneNumber)
        conversation.settle()

        let credentials = try #require(link.credentialsToConfirm)
        #expect(credentials.account?.jid == "\(account.phoneNumber):1@s.whatsapp.net")
        #expect(conversation.world.devices.isEmpty)
        // The refs keep running out meanwhile, but a verified pairing is not cut short by them.
        conversation.advance(by: .seconds(25))
        #expect(link.ending == nil)

        link.credentialsToConfirm = nil
        conversation.client(link, .pairingConfirmed(.accepted, now: conversation.now))
        #expect(link.paired != nil)
        #expect(conversation.world.devices.count == 1)
        #expect(link.ending?.reason.category == .restartRequired)
    }

    @Test func aRejectedPersistenceIsAnsweredWithError500AndEndsThePairing() throws {
        let conversation = Conversation()
        conversation.autoConfirm = .rejected(detail: "disk full")
        let account = conversation.addAccount()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        try conversation.world.scan(link.qrCodes[0], phoneNumber: account.phoneNumber)
        conversation.settle()

        let ending = try #require(link.ending)
        #expect(ending.reason.category == .pairingFailed)
        #expect(ending.reason.detail.contains("disk full"))
        #expect(link.paired == nil)
        #expect(conversation.world.devices.isEmpty)
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func theSimulatorEndsAnUnscannedRegistrationAfterItsLastRefWhenTheClientDoesNot() throws {
        let conversation = Conversation()
        conversation.clientConfiguration.timeouts.laterQR = .seconds(3600)
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.qr))
        conversation.advance(by: .seconds(60 + 5 * 20 + 5))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .stream)
        #expect(ending.reason.category == .network)
    }
}
