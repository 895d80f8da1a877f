import Foundation
import Testing
import WAWire
@testable import WASim

@Suite("Simulated phone")
struct SimPhoneTests {
    private func simulator(_ change: (inout SimConfiguration) -> Void = { _ in }) throws -> Simulator {
        var configuration = SimConfiguration()
        change(&configuration)
        return try Simulator(configuration: configuration)
    }

    private func qr(ref: String = "2@abc", platform: PairingPlatform? = .chrome) throws -> String {
        try PairingQR(
            ref: ref,
            noisePublicKey: Curve25519KeyPair.generate().publicKey,
            identityPublicKey: Curve25519KeyPair.generate().publicKey,
            advSecret: [UInt8](repeating: 9, count: 32),
            platform: platform
        ).string
    }

    @Test func accountsAreCreatedOnFirstUseWithTheirOwnKeys() throws {
        let simulator = try simulator()
        let first = try simulator.phone("+1 (555) 000-7777")
        let again = try simulator.phone("15550007777")
        let other = try simulator.phone("15550008888")
        #expect(first.phoneNumber == "15550007777")
        #expect(first == again)
        #expect(first.identityPrivateKey != other.identityPrivateKey)
        #expect(first.lidUser != other.lidUser)
        #expect(first.platform == "android")
        #expect(simulator.phones.map(\.phoneNumber) == ["15550001234", "15550007777", "15550008888"])
    }

    @Test func phoneNumbersAreNormalisedOrRefused() throws {
        #expect(try Simulator.normalizedPhone("+49 (30) 1234-5678") == "493012345678")
        for bad in ["0301234567", "12ab4567", "12345", "1234567890123456"] {
            #expect(throws: SimulatorError.self) { try Simulator.normalizedPhone(bad) }
        }
    }

    @Test func scanningSomethingElseThanAPairingQRIsRefused() async throws {
        let simulator = try simulator()
        await #expect { try await simulator.scan(qr: "https://example.com/not-a-qr") } throws: { error in
            (error as? SimulatorError)?.code == .invalidQR
        }
    }

    @Test func scanningARefNoConnectionShowsIsRefusedInBothForms() async throws {
        let simulator = try simulator()
        for text in [try qr(), try qr(platform: nil)] {
            await #expect { try await simulator.scan(qr: text) } throws: { error in
                (error as? SimulatorError)?.code == .unknownRef
            }
        }
    }

    @Test func aCodeWithoutACompanionAskingIsRefused() async throws {
        let simulator = try simulator()
        await #expect { try await simulator.enterCode("ABCD-EFGH", phone: "15550001234") } throws: { error in
            (error as? SimulatorError)?.code == .noPendingCode
        }
        await #expect { try await simulator.enterCode("not a code", phone: "15550001234") } throws: { error in
            (error as? SimulatorError)?.code == .invalidCode
        }
    }

    @Test func unknownPhonesAndDevicesAreReported() throws {
        let simulator = try simulator()
        #expect { try simulator.devices(of: "15559990000") } throws: { ($0 as? SimulatorError)?.code == .unknownPhone }
        #expect(try simulator.devices(of: "15550001234").isEmpty)
        #expect { try simulator.unlink(device: 3, of: "15550001234") } throws: { ($0 as? SimulatorError)?.code == .unknownDevice }
    }

    @Test func waiterSucceedsWhenItsPhoneGetsADeviceAndFailsOnAViolation() async throws {
        let waiters = PairingWaiters()
        let first = waiters.register(phone: "15550001234")
        let second = waiters.register(phone: "15550001234")
        let device = JID(user: "15550001234", device: 4, server: .whatsApp)
        waiters.paired(device)
        waiters.violation(phone: "15550001234", detail: "bad_signature: pair-device-sign refused")
        #expect(try await waiters.wait(first, timeout: .seconds(5)).get() == device)
        let failure = await waiters.wait(second, timeout: .seconds(5))
        #expect(throws: SimulatorError.self) { try failure.get() }
    }

    @Test func waiterGivesUpAfterItsTimeout() async {
        let waiters = PairingWaiters()
        let ticket = waiters.register(phone: "15550001234")
        let outcome = await waiters.wait(ticket, timeout: .milliseconds(20))
        #expect { try outcome.get() } throws: { ($0 as? SimulatorError)?.code == .pairingRefused }
    }
}
