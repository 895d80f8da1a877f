import Crypto
import Testing
@testable import WAWire

@Suite struct SignatureTests {
    typealias Kit = CryptoTestKit

    /// (message, public key, signature) triples that real libsignal-family signers produced.
    static func knownSignatures() throws -> [(label: String, message: [UInt8], publicKey: [UInt8], signature: [UInt8])] {
        let pairing = try Kit.vector("pairing")
        let identity = try Kit.bytes(in: pairing, "companion.identity_pub")
        let prekeyMessage = try Kit.bytes(in: pairing, "companion.signed_prekey_signed_message")
        let account = try Kit.bytes(in: pairing, "pair_success.primary_identity_pub_aka_accountSignatureKey")
        let accountMessage = try Kit.bytes(in: pairing, "pair_success.account_signature_message")
        let deviceMessage = try Kit.bytes(in: pairing, "pair_device_sign.device_signature_message")
        return [
            ("signed prekey, deterministic", prekeyMessage, identity,
             try Kit.bytes(in: pairing, "companion.signed_prekey_sig_deterministic_curve25519js")),
            ("signed prekey, random", prekeyMessage, identity,
             try Kit.bytes(in: pairing, "companion.signed_prekey_sig_libsignal_with_random")),
            ("account", accountMessage, account, try Kit.bytes(in: pairing, "pair_success.accountSignature")),
            ("device, deterministic", deviceMessage, identity,
             try Kit.bytes(in: pairing, "pair_device_sign.deviceSignature_deterministic")),
            ("device, random", deviceMessage, identity,
             try Kit.bytes(in: pairing, "pair_device_sign.deviceSignature_libsignal_with_random")),
            // pairing.md §6.4: libsignal's own test, and curve25519-js's deterministic signature.
            ("libsignal", Kit.bytes("05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a"),
             Kit.bytes("ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64"),
             Kit.bytes("5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfbede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88")),
            ("libsignal key, curve25519-js", Kit.bytes("05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a"),
             Kit.bytes("ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64"),
             Kit.bytes("9ede176d7c154b2bdbfe0787a0d593c023747d7c540d7cb26329d225b721aca51aaddb5adc75f20006927179b71624bd87b9d04fb6219b211da823b26c40058a")),
            // transport.md §9.3.
            ("transport KAT", Kit.bytes("08011000"),
             Kit.bytes("7ecfffc6e07ab554f4e5199bc2f533dd575c880df4b2e9d8557640ee1e59aa78"),
             Kit.bytes("639cdf10fb4f3b662f4e39e92a0f5318ea7fb4e4991deaff2442e9abc06a1dc12e34b3c711798019e8360388a5c83d5e8813f47932ea991505c673d9f30b748e")),
        ]
    }

    @Test func everyKnownSignatureVerifies() throws {
        for known in try Self.knownSignatures() {
            #expect(CurveSignature.isValid(known.signature, for: known.message, publicKey: known.publicKey), "\(known.label)")
        }
    }

    @Test func anyFlippedSignatureBitIsRejected() throws {
        for known in try Self.knownSignatures() {
            for bit in 0..<512 {
                var signature = known.signature
                signature[bit / 8] ^= 1 << UInt8(bit % 8)
                #expect(!CurveSignature.isValid(signature, for: known.message, publicKey: known.publicKey), "\(known.label) bit \(bit)")
            }
        }
    }

    @Test func otherMessagesAndKeysAreRejected() throws {
        for known in try Self.knownSignatures() {
            #expect(!CurveSignature.isValid(known.signature, for: known.message + [0], publicKey: known.publicKey))
            #expect(!CurveSignature.isValid(known.signature, for: Array(known.message.dropFirst()), publicKey: known.publicKey))
            var message = known.message
            message[message.count - 1] ^= 0x01
            #expect(!CurveSignature.isValid(known.signature, for: message, publicKey: known.publicKey))
            var key = known.publicKey
            key[0] ^= 0x01
            #expect(!CurveSignature.isValid(known.signature, for: known.message, publicKey: key))
        }
    }

    @Test func malleatedSignaturesWithSPlusLAreRejected() throws {
        let order = Kit.bytes("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        for known in try Self.knownSignatures() {
            var signature = known.signature
            var carry = 0
            for index in 0..<32 {
                let byte = index == 31 ? Int(signature[63] & 0x7F) : Int(signature[32 + index])
                let sum = byte + Int(order[index]) + carry
                signature[32 + index] = UInt8(sum & 0xFF)
                carry = sum >> 8
            }
            signature[63] |= known.signature[63] & 0x80
            #expect(!CurveSignature.isValid(signature, for: known.message, publicKey: known.publicKey), "\(known.label)")
        }
    }

    @Test func wrongLengthsAreRejected() throws {
        let known = try #require(try Self.knownSignatures().first)
        #expect(!CurveSignature.isValid(Array(known.signature.dropLast()), for: known.message, publicKey: known.publicKey))
        #expect(!CurveSignature.isValid(known.signature + [0], for: known.message, publicKey: known.publicKey))
        #expect(!CurveSignature.isValid(known.signature, for: known.message, publicKey: [0x05] + known.publicKey))
        #expect(!CurveSignature.isValid(known.signature, for: known.message, publicKey: Array(known.publicKey.dropLast())))
        #expect(!CurveSignature.isValid([], for: [], publicKey: []))
    }

    @Test func signingWithRandomnessMatchesTheXEdDSAReference() throws {
        // Produced with PyPI xeddsa 1.2.0 (libxeddsa) as
        // `ed25519_priv_sign(priv_force_sign(priv, False), msg, nonce)` and checked with its
        // `ed25519_verify`; keys 0, 1 and 4 have an Edwards sign bit of 1 (a is negated).
        let cases: [(privateKey: String, message: String, randomness: String, signature: String)] = [
            ("0883e49325d449e4305de004d6f06b30e0a819483cb04eff7a85f9e8e48f0e4c", "",
             "cb6c33e56ccf9396d1aee85e1a25962cc983485b6716b02e650f6fb8bcd85a78b8c840b804c6c8ec48f0e23134d33a72763897e4070e454797411efed0b83a3d",
             "e1f79d61448d9cff2d2be249712faed2fef19b7a24bd78cb7caea624543352c2ba098d32bda5b2db3657a907d6a4b39f9e052a342008ec58cd7f348578370009"),
            ("184f6edbe7de1bf6629e48721803be1dc751f355b5c195a43fa1d53b4831b256", "76d97270d5",
             "8393474160d58c3b6e55d42fbe4bf2fc83580ab3cbda90e52d0fa8b614e2908e76db06653c51b093fd9be7213045b946146bfb710566b20fd40b34d306088c8e",
             "37a0dbafda33eb37073c03d937a07b057b06dfcc5d4385d9bd7dd01ff9b309be59e0978e57c4ff943e7be12e55ecfceff1dfe497a1921969cd9f847a2e288c09"),
            ("e8f69697cbd0af8215ef02d7198191c937636a1dba2dd567460259a92c206371", "eb4221767d22a495f34f",
             "44a80535801a855a3f64475badfafc1d3bca135cf9dc7b350035499ba2464f7520d3500aa4dbd5989b480df5792050ef72eba9a25ff96934388b6025c2b5394f",
             "6324f2cccbf7966669b52c2ad7767e6aec73d255b1965df4c08b6b53b9aa96f30c15d2202274d02ecf7140ac5905e487d3d8b4ced355e35b5de65f6dfbead10c"),
            ("20156ae52ced571a48bca7291bf9dbf91469d3d0304bab1042bcd8b2a53adf5f", "19a55b35693d54957c89ff98be1c9a",
             "7a8d716bdfe55e6438b43722de8414854bbe55e3b652e4e28bb69208e1697c025a479d8059fe4b0011f4ff607f4639dbcd0a6ccbaf9518b8864a0fe1fe6518bc",
             "bd8be08b236f2e53df680a8cd2985b99baf6d383c847690a32dfd6d9f5f2696e0ca05256f65ebd65260938da00c3a62a3950abc9792a6549be0ba332790e4601"),
            ("c06fe86a2cdfbfb4c826f9666335a9859f104f54e08f7992cd96947c4d912a71", "383361a23e136e7db01bb3343e0da3236acbd703",
             "33ab1b475c0202fd3ea5218f44169932b68f60099033dfcf1dd0584a65f947d4f283ecd10f5b1ab6551f79160a1a1ef707a04d477d0273f9adfbd655b7cda97a",
             "8d43144471ede4577a58715d4e24ad494413bd174dee5a926924b1c80b1bf65f5743c4785f4e46a2ce798fbaec4cf2c02e8d749c523f29c31c57d8b845493701"),
            ("d0be211b3c61bdc5d55e3bc8fdca536dcf8ff3038134125ab2ec03de6b9e2263", "8d237b2fdbac0005e04601b178aef917897424e83c2fd77d37",
             "b8f9e02b04dd59ec7737b11c497a36d3399448449f7352143ff9484bfadfc754b25bd406657437aea3a13476f095f1a71baca95d8de61a2cdb9fa66e2202f0d7",
             "3151e4258aaa4a535f51a14ca2037a1af0257f631de11487af52177b9f70068d4a2f81e41af7fd7981b72380700f621b46998865ae91f4f5d591ca34ab280f03"),
        ]
        for known in cases {
            let signature = try CurveSignature.sign(
                Kit.bytes(known.message), privateKey: Kit.bytes(known.privateKey), randomness: Kit.bytes(known.randomness))
            #expect(Kit.hex(signature) == known.signature)
        }
    }

    @Test func signaturesVerifyUnderLibsignalAndStrictXEdDSARules() throws {
        var generator = SeededRandom(seed: 0x5EED_0001)
        var negativeKeys = 0
        for round in 0..<40 {
            let pair = Curve25519KeyPair.generate(using: &generator)
            let message = generator.bytes(round * 7 % 200)
            let signature = try CurveSignature.sign(message, privateKey: pair.privateKey, randomness: generator.bytes(64))
            #expect(CurveSignature.isValid(signature, for: message, publicKey: pair.publicKey))
            #expect(Self.isValidStrictXEdDSA(signature, for: message, publicKey: pair.publicKey))
            #expect(!CurveSignature.isValid(signature, for: message + [1], publicKey: pair.publicKey))
            if EdwardsPoint.base.multiplied(by: pair.privateKey).encoded[31] & 0x80 != 0 {
                negativeKeys += 1
            }
        }
        // Both signs of the Edwards key must have been exercised.
        #expect(negativeKeys > 5 && negativeKeys < 35)
    }

    @Test func unseededSigningVerifiesAndDiffersEachTime() throws {
        let pair = Curve25519KeyPair.generate()
        let message = Array("hello".utf8)
        let first = CurveSignature.sign(message, privateKey: pair.privateKey)
        let second = CurveSignature.sign(message, privateKey: pair.privateKey)
        #expect(first != second)
        #expect(CurveSignature.isValid(first, for: message, publicKey: pair.publicKey))
        #expect(CurveSignature.isValid(second, for: message, publicKey: pair.publicKey))
    }

    @Test func signingRejectsBadLengths() {
        #expect(throws: CurveError(.invalidKeyLength)) {
            try CurveSignature.sign([], privateKey: [UInt8](repeating: 1, count: 31), randomness: [UInt8](repeating: 0, count: 64))
        }
        #expect(throws: CurveError(.invalidRandomnessLength)) {
            try CurveSignature.sign([], privateKey: [UInt8](repeating: 1, count: 32), randomness: [UInt8](repeating: 0, count: 32))
        }
    }

    /// Signal's XEdDSA verifier: the Edwards key always has sign bit 0, the signature is used as is.
    static func isValidStrictXEdDSA(_ signature: [UInt8], for message: [UInt8], publicKey: [UInt8]) -> Bool {
        var montgomery = publicKey
        montgomery[31] &= 0x7F
        let u = FieldElement(littleEndianBytes: montgomery)
        let edwards = ((u - .one) * (u + .one).inverted()).littleEndianBytes
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: edwards) else {
            return false
        }
        return key.isValidSignature(signature, for: message)
    }
}
