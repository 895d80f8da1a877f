import Foundation
import Synchronization
import WAClient
import Testing
@testable import WASim
import WAWire

@Suite("Simulator world")
struct SimSessionWorldTests {
    @Test func theSnapshotSurvivesJSONAndRestoresAccountsAndDevices() throws {
        let conversation = Conversation()
        let credentials = try conversation.pairByQR()
        let snapshot = conversation.world.snapshot()
        #expect(snapshot.accounts.count == 1)
        #expect(snapshot.devices.count == 1)
        #expect(snapshot.accounts[0].nextDeviceID == 2)

        let decoded = try JSONDecoder().decode(SimWorld.Snapshot.self, from: JSONEncoder().encode(snapshot))
        #expect(decoded == snapshot)
        let restored = Conversation(world: SimWorld(snapshot: decoded))
        let link = restored.login(credentials)
        #expect(link.online != nil)
        #expect(!snapshot.accounts[0].description.contains(snapshot.accounts[0].identityPrivateKey.map { String($0) }.joined()))
    }

    @Test func deviceNumbersFitOneByteAndAreReusedOnceFree() throws {
        var random = SeededRandom(seed: 2)
        let account = SimAccount.generate(phoneNumber: "15550002222", using: &random)
        let linked = (1...SimWorld.maxDeviceID).map { number in
            SimLinkedDevice(
                phoneNumber: account.phoneNumber, deviceID: number, lidUser: account.lidUser, noisePublicKey: [],
                identityPublicKey: [], registrationID: 1, keyIndex: UInt32(number), linkedAt: Date(), os: "test"
            )
        }
        let world = SimWorld(snapshot: SimWorld.Snapshot(accounts: [account], devices: linked))
        #expect(world.reserveDevice(phoneNumber: account.phoneNumber) == nil)

        #expect(world.unlink(JID(user: account.phoneNumber, device: 7, server: .whatsApp)))
        #expect(world.reserveDevice(phoneNumber: account.phoneNumber)?.deviceID == 7)
        #expect(world.unlink(JID(user: account.phoneNumber, device: 255, server: .whatsApp)))
        #expect(world.reserveDevice(phoneNumber: account.phoneNumber)?.deviceID == 255)
    }

    @Test func thePhoneReportsWhyAScanOrACodeCannotBeUsed() throws {
        let world = SimWorld()
        var random = SeededRandom(seed: 1)
        world.addAccount(SimAccount.generate(phoneNumber: "15550001111", using: &random))
        #expect(throws: SimWorldError(.invalidQR)) { try world.scan("hello", phoneNumber: "15550001111") }
        let qr = try PairingQR(
            ref: "2@nothing", noisePublicKey: [UInt8](repeating: 1, count: 32), identityPublicKey: [UInt8](repeating: 2, count: 32),
            advSecret: [UInt8](repeating: 3, count: 32), platform: .chrome
        )
        #expect(throws: SimWorldError(.unknownAccount)) { try world.scan(qr.string, phoneNumber: "1999") }
        #expect(throws: SimWorldError(.unknownRef)) { try world.scan(qr.string, phoneNumber: "15550001111") }
        #expect(throws: SimWorldError(.invalidCode)) { try world.enterCode("0000-0000", phoneNumber: "15550001111") }
        #expect(throws: SimWorldError(.noCodePairing)) { try world.enterCode("ABCD-EFGH", phoneNumber: "15550001111") }
        #expect(world.handOutPreKeys(of: JID(user: "1", device: 1, server: .whatsApp), count: 1) == nil)
        #expect(!world.unlink(JID(user: "1", device: 1, server: .whatsApp)))
    }

    @Test func connectionsGetTheirPlannedFaultsAndTheObserverSeesEverything() throws {
        let seen = Mutex<[String]>([])
        let world = SimWorld(
            observer: { event in
                let name = switch event {
                case .connectionOpened: "opened"
                case .connectionClosed: "closed"
                case .handshakeCompleted(_, let isRegistration): isRegistration ? "registration" : "login"
                case .refsServed(_, let count): "refs \(count)"
                case .loggedIn: "loggedIn"
                case .loginRefused(_, let reason): "refused \(reason)"
                case .paired: "paired"
                case .unlinked: "unlinked"
                case .faultApplied(_, let label): "fault \(label)"
                case .violation(let violation): "violation \(violation.kind)"
                case .preKeysChanged(let devices): "prekeys \(devices.count)"
                case .messageSent, .stanzasOffered, .stanzaAnswered, .stanzaRefused, .retryAnswered, .ackDeadlineMissed, .messageAccepted,
                     .messageRefused, .messageRead, .messageRelayed, .preKeyBundlesServed:
                    "messaging"
                }
                seen.withLock { $0.append(name) }
            },
            planFaults: { id in SimConnectionFaults(loginFailure: id.rawValue == 2 ? 405 : nil) }
        )
        let conversation = Conversation(world: world)
        let credentials = try conversation.pairByQR()
        let refused = conversation.login(credentials)
        #expect(refused.ending?.reason.category == .clientOutdated)
        conversation.login(credentials)
        #expect(seen.withLock { $0 } == [
            "opened", "registration", "refs 6", "paired", "closed",
            "opened", "login", "fault login_failure_405", "refused 405", "closed",
            "opened", "login", "loggedIn", "prekeys 1",
        ])
    }

    @Test func onlyTheNewestViolationsAreKeptButAllAreCounted() {
        let world = SimWorld()
        for index in 0..<(SimWorld.retainedViolations + 5) {
            world.record(SimViolation(
                connection: SimConnectionID(1), device: nil, kind: .malformedStanza, detail: "\(index)", at: Conversation.start
            ))
        }
        #expect(world.violationCount == SimWorld.retainedViolations + 5)
        #expect(world.violations.count == SimWorld.retainedViolations)
        #expect(world.violations.first?.detail == "5")
    }

    @Test func deliveriesToEndedConnectionsAreRefused() {
        let world = SimWorld()
        let ticket = world.openConnection { _ in }
        #expect(world.deliver(.fault(.drop), to: ticket.id))
        world.connectionEnded(ticket.id)
        #expect(!world.deliver(.fault(.drop), to: ticket.id))
        #expect(world.liveConnections.isEmpty)
    }
}
