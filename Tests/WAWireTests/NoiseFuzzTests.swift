import Testing
import WAWire

/// Random and mutated inputs to every Noise read path: never a crash, never a forged success.
@Suite struct NoiseFuzzTests {
    typealias Kit = CryptoTestKit

    /// Random lengths around the expected ones, so that length checks and crypto both get exercised.
    static func part(_ generator: inout SeededRandom, typical: Int) -> [UInt8] {
        let length = generator.next() % 4 == 0 ? Int(generator.next() % 100) : typical
        return generator.bytes(length)
    }

    static func mutate(_ bytes: inout [UInt8], _ generator: inout SeededRandom) {
        let value = UInt8(truncatingIfNeeded: generator.next() | 1)
        switch generator.next() % 4 {
        case 0 where !bytes.isEmpty: bytes[Int(generator.next() % UInt64(bytes.count))] ^= value
        case 1 where !bytes.isEmpty: bytes.remove(at: Int(generator.next() % UInt64(bytes.count)))
        case 2: bytes.insert(value, at: Int(generator.next() % UInt64(bytes.count + 1)))
        default: bytes.append(value)
        }
    }

    // 4 × 25,000 handshake messages, run as parallel cases.
    @Test(arguments: 0..<4 as Range<UInt64>)
    func garbageHandshakeMessagesNeverCrashOrPass(part: UInt64) throws {
        var generator = SeededRandom(seed: 0xF022_1000 + part)
        let exchange = try NoiseHandshakeTests.exchange(&generator)
        let freshResponder = NoiseHandshake(role: .responder, staticKeyPair: .generate(using: &generator))
        var passed = 0
        for round in 0..<25_000 {
            let mutated = generator.next() % 2 == 0
            switch generator.next() % 3 {
            case 0:
                var message = NoiseHandshake.Message1(
                    ephemeral: Self.part(&generator, typical: 32), payload: Self.part(&generator, typical: 0))
                if mutated {
                    message = exchange.message1
                    Self.mutate(&message.ephemeral, &generator)
                }
                var responder = freshResponder
                // Any 32 bytes are an acceptable ephemeral here; message 2 exposes a bad one.
                _ = try? responder.readMessage1(message)
            case 1:
                var message = NoiseHandshake.Message2(
                    ephemeral: Self.part(&generator, typical: 32), encryptedStatic: Self.part(&generator, typical: 48),
                    encryptedPayload: Self.part(&generator, typical: 40))
                if mutated {
                    message = exchange.message2
                    let parts = [\NoiseHandshake.Message2.ephemeral, \.encryptedStatic, \.encryptedPayload]
                    Self.mutate(&message[keyPath: parts[Int(generator.next() % 3)]], &generator)
                }
                var initiator = exchange.afterMessage1
                if (try? initiator.readMessage2(message)) != nil, message != exchange.message2 {
                    passed += 1
                    Issue.record("part \(part) round \(round): a garbage message 2 was accepted")
                }
            default:
                var message = NoiseHandshake.Message3(
                    encryptedStatic: Self.part(&generator, typical: 48), encryptedPayload: Self.part(&generator, typical: 76))
                if mutated {
                    message = exchange.message3
                    let parts = [\NoiseHandshake.Message3.encryptedStatic, \.encryptedPayload]
                    Self.mutate(&message[keyPath: parts[Int(generator.next() % 2)]], &generator)
                }
                var responder = exchange.afterMessage2
                if (try? responder.readMessage3(message)) != nil, message != exchange.message3 {
                    passed += 1
                    Issue.record("part \(part) round \(round): a garbage message 3 was accepted")
                }
            }
        }
        #expect(passed == 0)
    }

    // 2 × 50,000 frames, run as parallel cases.
    @Test(arguments: 0..<2 as Range<UInt64>)
    func garbageTransportFramesNeverCrashOrDecrypt(part: UInt64) throws {
        var generator = SeededRandom(seed: 0xF022_2000 + part)
        let exchange = try NoiseHandshakeTests.exchange(&generator)
        var sender = exchange.initiator.split()
        let receiver = exchange.responder.split()
        let frame = Array(try sender.encrypt(generator.bytes(100)))
        var passed = 0
        for round in 0..<50_000 {
            var candidate: [UInt8]
            if generator.next() % 2 == 0 {
                candidate = generator.bytes(Int(generator.next() % 150))
            } else {
                candidate = frame
                for _ in 0...(generator.next() % 3) {
                    Self.mutate(&candidate, &generator)
                }
            }
            var copy = receiver
            if (try? copy.decrypt(candidate)) != nil, candidate != frame {
                passed += 1
                Issue.record("part \(part) round \(round): a garbage frame decrypted")
            }
        }
        #expect(passed == 0)
        var copy = receiver
        #expect(try copy.decrypt(frame).count == 100)
    }
}
