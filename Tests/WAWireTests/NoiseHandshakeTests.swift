import Crypto
import Foundation
import Testing
@testable import WAWire

@Suite struct NoiseHandshakeTests {
    typealias Kit = CryptoTestKit

    struct Exchange {
        var initiator: NoiseHandshake
        var responder: NoiseHandshake
        var message1: NoiseHandshake.Message1
        var message2: NoiseHandshake.Message2
        var message3: NoiseHandshake.Message3
        var afterMessage1: NoiseHandshake
        var afterMessage2: NoiseHandshake
    }

    /// A complete handshake, keeping the states just before each read for tampering tests.
    static func exchange(_ generator: inout SeededRandom, rules: NoiseHandshake.Rules = .whatsApp) throws -> Exchange {
        var initiator = NoiseHandshake(
            role: .initiator, staticKeyPair: .generate(using: &generator),
            ephemeralKeyPair: .generate(using: &generator), rules: rules)
        var responder = NoiseHandshake(
            role: .responder, staticKeyPair: .generate(using: &generator),
            ephemeralKeyPair: .generate(using: &generator), rules: rules)
        let message1 = initiator.writeMessage1()
        try responder.readMessage1(message1)
        let message2 = try responder.writeMessage2(payload: generator.bytes(40))
        let afterMessage1 = initiator
        _ = try initiator.readMessage2(message2)
        let message3 = try initiator.writeMessage3(payload: generator.bytes(60))
        let afterMessage2 = responder
        _ = try responder.readMessage3(message3)
        return Exchange(
            initiator: initiator, responder: responder, message1: message1, message2: message2, message3: message3,
            afterMessage1: afterMessage1, afterMessage2: afterMessage2)
    }

    @Test func bothRolesAgreeAndLearnEachOthersStaticKey() throws {
        var generator = SeededRandom(seed: 11)
        for _ in 0..<5 {
            let initiatorStatic = Curve25519KeyPair.generate(using: &generator)
            let responderStatic = Curve25519KeyPair.generate(using: &generator)
            var initiator = NoiseHandshake(role: .initiator, staticKeyPair: initiatorStatic)
            var responder = NoiseHandshake(role: .responder, staticKeyPair: responderStatic)
            try responder.readMessage1(initiator.writeMessage1())
            let certificate = generator.bytes(300)
            #expect(try initiator.readMessage2(responder.writeMessage2(payload: certificate)) == certificate)
            let clientPayload = generator.bytes(500)
            #expect(try responder.readMessage3(initiator.writeMessage3(payload: clientPayload)) == clientPayload)
            #expect(initiator.remoteStatic == responderStatic.publicKey)
            #expect(responder.remoteStatic == initiatorStatic.publicKey)
            #expect(initiator.handshakeHash == responder.handshakeHash)

            var client = initiator.split()
            var server = responder.split()
            for round in 0..<20 {
                let up = generator.bytes(round * 13)
                #expect(Array(try server.decrypt(client.encrypt(up))) == up)
                let down = generator.bytes(round * 17)
                #expect(Array(try client.decrypt(server.encrypt(down))) == down)
            }
        }
    }

    @Test func tamperingAnyByteOfMessage2Or3Fails() throws {
        var generator = SeededRandom(seed: 12)
        let exchange = try Self.exchange(&generator)
        let parts2 = [\NoiseHandshake.Message2.ephemeral, \.encryptedStatic, \.encryptedPayload]
        for part in parts2 {
            for index in exchange.message2[keyPath: part].indices {
                var message = exchange.message2
                message[keyPath: part][index] ^= 0x01
                var initiator = exchange.afterMessage1
                #expect(throws: NoiseError.self) { try initiator.readMessage2(message) }
            }
        }
        let parts3 = [\NoiseHandshake.Message3.encryptedStatic, \.encryptedPayload]
        for part in parts3 {
            for index in exchange.message3[keyPath: part].indices {
                var message = exchange.message3
                message[keyPath: part][index] ^= 0x80
                var responder = exchange.afterMessage2
                #expect(throws: NoiseError.self) { try responder.readMessage3(message) }
            }
        }
    }

    @Test func tamperingMessage1IsCaughtByMessage2() throws {
        var generator = SeededRandom(seed: 13)
        for rules in [NoiseHandshake.Rules.whatsApp, .standard] {
            for index in 0..<32 {
                var initiator = NoiseHandshake(role: .initiator, staticKeyPair: .generate(using: &generator), rules: rules)
                var responder = NoiseHandshake(role: .responder, staticKeyPair: .generate(using: &generator), rules: rules)
                var message1 = initiator.writeMessage1(payload: rules == .standard ? [1, 2, 3] : [])
                message1.ephemeral[index] ^= 0x02
                guard (try? responder.readMessage1(message1)) != nil,
                    let message2 = try? responder.writeMessage2(payload: [4])
                else {
                    continue  // A low-order ephemeral is refused outright, which is also a failure.
                }
                #expect(throws: NoiseError.self) { try initiator.readMessage2(message2) }
            }
            if rules == .standard {
                var initiator = NoiseHandshake(role: .initiator, staticKeyPair: .generate(using: &generator), rules: rules)
                var responder = NoiseHandshake(role: .responder, staticKeyPair: .generate(using: &generator), rules: rules)
                var message1 = initiator.writeMessage1(payload: [1, 2, 3])
                message1.payload[1] ^= 0x10
                try responder.readMessage1(message1)
                let message2 = try responder.writeMessage2(payload: [4])
                #expect(throws: NoiseError(.decryptionFailed)) { try initiator.readMessage2(message2) }
            }
        }
    }

    @Test func tamperedTransportFramesFailWithoutAdvancingTheCounter() throws {
        var generator = SeededRandom(seed: 14)
        let exchange = try Self.exchange(&generator)
        var client = exchange.initiator.split()
        var server = exchange.responder.split()
        let frame = try client.encrypt(generator.bytes(64))
        for index in frame.indices {
            var tampered = frame
            tampered[index] ^= 0x40
            #expect(throws: NoiseError(.decryptionFailed)) { try server.decrypt(tampered) }
        }
        #expect(throws: NoiseError(.decryptionFailed)) { try server.decrypt(Array(frame.dropLast())) }
        #expect(throws: NoiseError(.malformedMessage)) { try server.decrypt(Array(frame.prefix(15))) }
        _ = try server.decrypt(frame)
        // Replaying the frame uses the next counter and fails.
        #expect(throws: NoiseError(.decryptionFailed)) { try server.decrypt(frame) }
    }

    @Test func countersStopAtTheEndInsteadOfWrapping() throws {
        let key = SymmetricKey(data: [UInt8](repeating: 3, count: 32))
        let last = UInt64(UInt32.max)
        var sender = NoiseTransport(sendKey: key, receiveKey: key, sendCounter: last)
        var receiver = NoiseTransport(sendKey: key, receiveKey: key, receiveCounter: last)
        let frame = try sender.encrypt([1, 2, 3])
        #expect(Array(try receiver.decrypt(frame)) == [1, 2, 3])
        #expect(throws: NoiseError(.counterExhausted)) { try sender.encrypt([1]) }
        #expect(throws: NoiseError(.counterExhausted)) { try receiver.decrypt(frame) }
    }

    @Test func stepsOutOfOrderOrInTheWrongRoleAreRefused() throws {
        var generator = SeededRandom(seed: 15)
        let exchange = try Self.exchange(&generator)
        var responder = NoiseHandshake(role: .responder, staticKeyPair: .generate(using: &generator))
        #expect(throws: NoiseError(.outOfOrder)) { try responder.readMessage2(exchange.message2) }
        #expect(throws: NoiseError(.outOfOrder)) { try responder.writeMessage2(payload: []) }
        #expect(throws: NoiseError(.outOfOrder)) { try responder.readMessage3(exchange.message3) }
        var initiator = NoiseHandshake(role: .initiator, staticKeyPair: .generate(using: &generator))
        #expect(throws: NoiseError(.outOfOrder)) { try initiator.readMessage1(exchange.message1) }
        #expect(throws: NoiseError(.outOfOrder)) { try initiator.writeMessage3(payload: []) }

        // After a failure every later step is refused too.
        var failed = exchange.afterMessage1
        var broken = exchange.message2
        broken.encryptedPayload[0] ^= 1
        #expect(throws: NoiseError(.decryptionFailed)) { try failed.readMessage2(broken) }
        #expect(throws: NoiseError(.outOfOrder)) { try failed.readMessage2(exchange.message2) }
        #expect(throws: NoiseError(.outOfOrder)) { try failed.writeMessage3(payload: []) }
    }

    @Test func malformedPartsAreRefusedByLength() throws {
        var generator = SeededRandom(seed: 16)
        let exchange = try Self.exchange(&generator)
        var responder = NoiseHandshake(role: .responder, staticKeyPair: .generate(using: &generator))
        #expect(throws: NoiseError(.malformedMessage)) {
            try responder.readMessage1(.init(ephemeral: Array(exchange.message1.ephemeral.dropLast())))
        }
        var initiator = exchange.afterMessage1
        var short = exchange.message2
        short.encryptedStatic.removeLast()
        #expect(throws: NoiseError(.malformedMessage)) { try initiator.readMessage2(short) }
        var responder3 = exchange.afterMessage2
        var long = exchange.message3
        long.encryptedStatic.append(0)
        #expect(throws: NoiseError(.malformedMessage)) { try responder3.readMessage3(long) }
        var initiatorLowOrder = exchange.afterMessage1
        var lowOrder = exchange.message2
        lowOrder.ephemeral = [UInt8](repeating: 0, count: 32)
        #expect(throws: NoiseError(.invalidRemoteKey)) { try initiatorLowOrder.readMessage2(lowOrder) }
    }
}
