import Testing
import WAWire

/// Random and mutated inputs to signature verification: never a crash, never a false accept.
@Suite struct SignatureFuzzTests {
    typealias Kit = CryptoTestKit

    // 4 × 25,000 inputs, run as parallel cases. About one input in ten gets past the length and
    // s < L checks to the field inversion and Ed25519, which dominate the time in a debug build.
    @Test(arguments: 0..<4 as Range<UInt64>)
    func randomAndMutatedSignaturesNeverCrashOrVerify(part: UInt64) throws {
        var generator = SeededRandom(seed: 0xF022_0000 + part)
        let pair = Curve25519KeyPair.generate(using: &generator)
        let message = generator.bytes(48)
        let signature = try CurveSignature.sign(message, privateKey: pair.privateKey, randomness: generator.bytes(64))
        var accepted = 0
        for round in 0..<25_000 {
            var candidate = (signature: signature, message: message, publicKey: pair.publicKey)
            switch generator.next() % 20 {
            case 0..<11:
                // Any lengths, any bytes.
                candidate = (generator.bytes(Int(generator.next() % 80)), generator.bytes(Int(generator.next() % 64)),
                             generator.bytes(Int(generator.next() % 40)))
            case 11..<19:
                // Plausible lengths, random bytes.
                candidate = (generator.bytes(64), generator.bytes(Int(generator.next() % 64)), generator.bytes(32))
            default:
                // The valid triple with a few bytes changed, inserted or removed somewhere.
                for _ in 0...(generator.next() % 3) {
                    let value = UInt8(truncatingIfNeeded: generator.next() | 1)
                    let position = Int(generator.next() % 64)
                    switch generator.next() % 8 {
                    case 0, 1: candidate.signature[position % candidate.signature.count] ^= value
                    case 2: candidate.message[position % candidate.message.count] ^= value
                    case 3: candidate.publicKey[position % candidate.publicKey.count] ^= value
                    case 4: candidate.signature.remove(at: position % candidate.signature.count)
                    case 5: candidate.message.insert(value, at: position % candidate.message.count)
                    case 6: candidate.publicKey.append(value)
                    default: candidate.message.removeLast()
                    }
                }
            }
            if CurveSignature.isValid(candidate.signature, for: candidate.message, publicKey: candidate.publicKey) {
                accepted += 1
                Issue.record("part \(part) round \(round) accepted a forged signature")
            }
        }
        #expect(accepted == 0)
        #expect(CurveSignature.isValid(signature, for: message, publicKey: pair.publicKey))
    }
}
