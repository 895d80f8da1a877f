import Testing
import WAWire

@Suite struct SignatureKeyPairTests {
    typealias Kit = CryptoTestKit

    @Test func agreementMatchesTheLibsignalVector() throws {
        // pairing.md §6.4 (libsignal's test_agreement).
        let alice = try Curve25519KeyPair(privateKey: Kit.bytes("c806439dc9d2c476ffed8f2580c0888d58ab406bf7ae3698879021b96bb4bf59"))
        let bob = try Curve25519KeyPair(privateKey: Kit.bytes("b03b34c33a1c44f225b662d2bf4859b8135411fa7b0386d45fb75dc5b91b4466"))
        #expect(Kit.hex(alice.publicKey) == "1bb75966f2e93a3691dfff942bb2a466a1c08b8d78ca3f4d6df8b8bfa2e4ee28")
        #expect(Kit.hex(bob.publicKey) == "653614993d2b15ee9e5fd3d86ce719ef4ec1daae1886a87b3f5fa9565a27a22f")
        let shared = "325f239328941ced6e673b86ba41017448e99b649a9c3806c1dd7ca4c477e629"
        #expect(Kit.hex(try alice.sharedSecret(with: bob.publicKey)) == shared)
        #expect(Kit.hex(try bob.sharedSecret(with: alice.publicKey)) == shared)
    }

    @Test func privateKeysAreClamped() throws {
        let pair = try Curve25519KeyPair(privateKey: [UInt8](repeating: 0xFF, count: 32))
        #expect(pair.privateKey == [0xF8] + [UInt8](repeating: 0xFF, count: 30) + [0x7F])
        let same = try Curve25519KeyPair(privateKey: pair.privateKey)
        #expect(same.publicKey == pair.publicKey)
        var generator = SeededRandom(seed: 7)
        for _ in 0..<20 {
            let key = Curve25519KeyPair.generate(using: &generator).privateKey
            #expect(key[0] & 0x07 == 0 && key[31] & 0xC0 == 0x40)
        }
    }

    @Test func seededGenerationReproducesAndSystemGenerationDiffers() {
        var first = SeededRandom(seed: 8), second = SeededRandom(seed: 8)
        #expect(Curve25519KeyPair.generate(using: &first).publicKey == Curve25519KeyPair.generate(using: &second).publicKey)
        #expect(Curve25519KeyPair.generate().publicKey != Curve25519KeyPair.generate().publicKey)
    }

    @Test func badLengthsAndLowOrderPointsAreRefused() throws {
        #expect(throws: CurveError(.invalidKeyLength)) { try Curve25519KeyPair(privateKey: [UInt8](repeating: 1, count: 33)) }
        let pair = Curve25519KeyPair.generate()
        #expect(throws: CurveError(.invalidKeyLength)) { try pair.sharedSecret(with: [UInt8](repeating: 9, count: 31)) }
        // u = 0 and u = 1 are points of small order: every agreement with them is all zero.
        #expect(throws: CurveError(.invalidPublicKey)) { try pair.sharedSecret(with: [UInt8](repeating: 0, count: 32)) }
        #expect(throws: CurveError(.invalidPublicKey)) { try pair.sharedSecret(with: [1] + [UInt8](repeating: 0, count: 31)) }
    }

    @Test func descriptionShowsNoPrivateKey() throws {
        let pair = try Curve25519KeyPair(privateKey: [UInt8](repeating: 0xAB, count: 32))
        #expect(!pair.description.contains(Kit.hex(pair.privateKey)))
        #expect(pair.description.contains(Kit.hex(pair.publicKey)))
        #expect(CurveError(.invalidPublicKey).description == "CurveError(invalid_public_key)")
    }
}
