import Testing
@testable import WAWire

@Suite struct PairingKeysTests {
    @Test func signedPreKeySignsFiveThenThePublicKey() throws {
        let vectors = try PairingVectors()
        let identity = try Curve25519KeyPair(privateKey: vectors.bytes("companion", "identity_priv"))
        let preKeyPair = try Curve25519KeyPair(privateKey: vectors.bytes("companion", "signed_prekey_priv"))
        #expect(preKeyPair.publicKey == (try vectors.bytes("companion", "signed_prekey_pub")))
        #expect(SignedPreKey.signedMessage(preKeyPair.publicKey)
            == (try vectors.bytes("companion", "signed_prekey_signed_message")))
        let randomness = try vectors.bytes("companion", "signing_random64")
        let preKey = try SignedPreKey(id: SignedPreKey.initialID, keyPair: preKeyPair, identity: identity, randomness: randomness)
        #expect(preKey.signature == (try CurveSignature.sign(
            SignedPreKey.signedMessage(preKeyPair.publicKey), privateKey: identity.privateKey, randomness: randomness
        )))
        #expect(preKey.isValid(identityPublicKey: identity.publicKey))
        let libsignal = SignedPreKey(
            id: 1, keyPair: preKeyPair, signature: try vectors.bytes("companion", "signed_prekey_sig_libsignal_with_random")
        )
        #expect(libsignal.isValid(identityPublicKey: identity.publicKey))
        let deterministic = SignedPreKey(
            id: 1, keyPair: preKeyPair, signature: try vectors.bytes("companion", "signed_prekey_sig_deterministic_curve25519js")
        )
        #expect(deterministic.isValid(identityPublicKey: identity.publicKey))
    }

    @Test func generatedKeysAreDistinctAndConsistent() throws {
        var rng = SeededRandom(seed: 7)
        let keys = CompanionKeys.generate(using: &rng)
        #expect(keys.signedPreKey.id == 1)
        #expect(keys.signedPreKey.isValid(identityPublicKey: keys.identity.publicKey))
        #expect(keys.advSecret.count == 32)
        #expect(Set([keys.noise.publicKey, keys.identity.publicKey, keys.signedPreKey.keyPair.publicKey]).count == 3)

        var replay = SeededRandom(seed: 7)
        let again = CompanionKeys.generate(using: &replay)
        #expect(again.identity.privateKey == keys.identity.privateKey)
        #expect(again.registrationID == keys.registrationID)
        #expect(again.advSecret == keys.advSecret)

        let fresh = CompanionKeys.generate()
        #expect(fresh.identity.publicKey != keys.identity.publicKey)
        #expect(fresh.signedPreKey.isValid(identityPublicKey: fresh.identity.publicKey))
    }

    @Test func registrationIDsUseTheFullUInt32Range() {
        var rng = SeededRandom(seed: 11)
        let ids = (0..<16).map { _ in CompanionKeys.generate(using: &rng).registrationID }
        #expect(ids.contains { $0 > UInt32(UInt16.max) })
        #expect(ids.contains { $0 > UInt32.max / 2 })
    }
}
