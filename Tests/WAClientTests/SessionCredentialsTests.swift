import Crypto
import Foundation
import Testing
@testable import WAClient
import WAWire

@Suite("Device credentials and one-time prekeys")
struct SessionCredentialsTests {
    @Test func generatedCredentialsAreCompleteAndUnpaired() throws {
        let credentials = DeviceCredentials.generate()
        #expect(credentials.noiseKey.count == 32)
        #expect(credentials.identityKey.count == 32)
        #expect(credentials.signedPreKey.count == 32)
        #expect(credentials.signedPreKeyID == 1)
        #expect(credentials.advSecret.count == 32)
        #expect(credentials.preKeySeed.count == 32)
        #expect(credentials.nextPreKeyID == 1)
        #expect(!credentials.isPaired)
        let identity = try Curve25519KeyPair(privateKey: credentials.identityKey)
        let signedPreKey = try Curve25519KeyPair(privateKey: credentials.signedPreKey)
        #expect(CurveSignature.isValid(
            credentials.signedPreKeySignature, for: [5] + signedPreKey.publicKey, publicKey: identity.publicKey
        ))
        #expect(DeviceCredentials.generate().noiseKey != credentials.noiseKey)
    }

    @Test func aSeededGeneratorReproducesTheKeys() {
        var first = SeededRandom(seed: 42)
        var second = SeededRandom(seed: 42)
        let a = DeviceCredentials.generate(using: &first)
        let b = DeviceCredentials.generate(using: &second)
        #expect(a.noiseKey == b.noiseKey)
        #expect(a.identityKey == b.identityKey)
        #expect(a.advSecret == b.advSecret)
        #expect(a.preKeySeed == b.preKeySeed)
        #expect(a.registrationID == b.registrationID)
        #expect(!a.description.contains(a.noiseKey.map { String($0) }.joined()))
    }

    @Test func aPreKeyIsHKDFOfTheSeedAndItsID() throws {
        let seed = [UInt8](0..<32)
        // The derivation, spelled out: HKDF-SHA256, no salt, info = label ‖ BE32(id), 32 bytes, clamped.
        let expected = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: seed), info: Array("pairgate one-time prekey".utf8) + [0, 0, 0x03, 0x2C],
            outputByteCount: 32
        ).withUnsafeBytes { Array($0) }
        let key = try OneTimePreKeys.keyPair(seed: seed, id: 812)
        #expect(key.publicKey == (try Curve25519KeyPair(privateKey: expected)).publicKey)
        #expect(try OneTimePreKeys.keyPair(seed: seed, id: 812).privateKey == key.privateKey)
        #expect(try OneTimePreKeys.keyPair(seed: seed, id: 813).publicKey != key.publicKey)
        #expect(try OneTimePreKeys.keyPair(seed: [UInt8](repeating: 1, count: 32), id: 812).publicKey != key.publicKey)
    }

    @Test func derivationRefusesShortSeedsAndIDsOutsideTwentyFourBits() {
        #expect(throws: OneTimePreKeys.DerivationError.self) { try OneTimePreKeys.keyPair(seed: [1, 2, 3], id: 1) }
        #expect(throws: OneTimePreKeys.DerivationError.self) { try OneTimePreKeys.keyPair(seed: [UInt8](repeating: 0, count: 32), id: 0) }
        #expect(throws: OneTimePreKeys.DerivationError.self) {
            try OneTimePreKeys.keyPair(seed: [UInt8](repeating: 0, count: 32), id: 0x100_0000)
        }
    }

    @Test func uploadIDsWrapBelowTheRetryRangeBackToOne() {
        #expect(OneTimePreKeys.ids(from: 1, count: 3) == [1, 2, 3])
        #expect(OneTimePreKeys.ids(from: 0xEF_FFFE, count: 4) == [0xEF_FFFE, 0xEF_FFFF, 1, 2])
        #expect(OneTimePreKeys.ids(from: 0, count: 2) == [1, 2])
        #expect(OneTimePreKeys.ids(from: 0xF0_0000, count: 1) == [1])
        #expect(OneTimePreKeys.ids(from: 5, count: 0).isEmpty)
    }

    @Test func retryReceiptKeysComeFromTheirOwnRangeAndWrapWithinIt() {
        #expect(OneTimePreKeys.retryID(sequence: 0) == 0xF0_0000)
        #expect(OneTimePreKeys.retryID(sequence: 5) == 0xF0_0005)
        #expect(OneTimePreKeys.retryID(sequence: 0x10_0000) == 0xF0_0000)
        #expect(!OneTimePreKeys.uploadIDs.overlaps(OneTimePreKeys.retryIDs))
        #expect(OneTimePreKeys.retryIDs.upperBound == OneTimePreKeys.maximumID)
    }

    /// Credentials end up in log lines ("\(credentials)"): they name the account by its last four digits only.
    @Test func theDescriptionShowsOnlyTheLastFourDigitsOfTheNumber() {
        var credentials = DeviceCredentials.generate()
        credentials.account = PairedAccount(
            jid: "15551234567:3@s.whatsapp.net", lid: "99887766:3@lid", platform: "android", businessName: nil,
            signedIdentity: [], keyIndex: 1
        )
        let text = "\(credentials)"
        #expect(!text.contains("1555123"))
        #expect(!text.contains("99887766"))
        #expect(text.contains("•••4567"))
    }
}
