import Foundation
import Testing
@testable import WAClient
@testable import WASim
import WAWire

@Suite("Conversation: phone-number code pairing")
struct ConversationCodePairingTests {
    @Test func theCodeTypedOnThePhoneLinksTheDevice() throws {
        let conversation = Conversation()
        let account = conversation.addAccount()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.code(phoneNumber: account.phoneNumber)))

        #expect(link.eventNames == ["pairingCode"])
        let code = try #require(link.pairingCodes.first)
        #expect(code.count == 9 && code.dropFirst(4).first == "-")
        guard case .pairingCode(_, let validFor) = link.events[0] else {
            Issue.record("no pairing code")
            return
        }
        #expect(validFor == .seconds(160))

        conversation.advance(by: .seconds(30))
        try conversation.world.enterCode(code, phoneNumber: account.phoneNumber)
        conversation.settle()

        #expect(link.eventNames == ["pairingCode", "paired", "disconnected"])
        #expect(link.ending?.reason.category == .restartRequired)
        #expect(link.paired?.jid == "\(account.phoneNumber):1@s.whatsapp.net")
        #expect(conversation.world.devices.count == 1)
        #expect(conversation.world.violations.isEmpty)

        let online = conversation.login(link.client.credentials)
        #expect(online.online != nil)
    }

    @Test func aMistypedCodeEndsThePairingAsFailed() throws {
        let conversation = Conversation()
        let account = conversation.addAccount()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.code(phoneNumber: account.phoneNumber)))
        let code = try #require(link.pairingCodes.first)
        let wrong = code.first == "A" ? "B" + code.dropFirst() : "A" + code.dropFirst()

        try conversation.world.enterCode(String(wrong), phoneNumber: account.phoneNumber)
        conversation.settle()

        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .pairing)
        #expect(ending.reason.category == .pairingFailed)
        #expect(ending.reason.code == 400)
        #expect(conversation.world.devices.isEmpty)
        #expect(conversation.world.violations.isEmpty)
    }

    @Test func aCodeForAnUnknownNumberIsRefusedByTheServer() throws {
        let conversation = Conversation()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.code(phoneNumber: "4915112345678")))
        let ending = try #require(link.ending)
        #expect(ending.reason.category == .pairingFailed)
        #expect(ending.reason.code == 404)
        #expect(link.pairingCodes.isEmpty)
    }

    @Test func anInvalidPhoneNumberNeverReachesTheServer() throws {
        let conversation = Conversation()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.code(phoneNumber: "0123")))
        let ending = try #require(link.ending)
        #expect(ending.reason.stage == .local)
        #expect(link.clientWrites.isEmpty)
    }

    @Test func theCodeExpiresWithTheRefs() throws {
        let conversation = Conversation()
        let account = conversation.addAccount()
        let link = conversation.connect(conversation.freshCredentials(), intent: .pair(.code(phoneNumber: account.phoneNumber)))
        conversation.advance(by: .seconds(160))
        let ending = try #require(link.ending)
        #expect(ending.reason.category == .pairingTimeout)
        #expect(ending.reason.detail.contains("pairing code"))
        #expect(link.qrCodes.isEmpty)
        #expect(throws: SimWorldError(.noCodePairing)) {
            try conversation.world.enterCode(link.pairingCodes[0], phoneNumber: account.phoneNumber)
        }
    }
}
