import Testing
@testable import WAWire

@Suite struct PairingLinkCodeTests {
    @Test func encodesTheVectorCode() throws {
        let vectors = try PairingVectors()
        let code = try LinkCode(randomBytes: vectors.bytes("link_code", "code_random5"))
        #expect(try code.code == vectors.string("link_code", "code"))
        #expect(try code.display == vectors.string("link_code", "display"))
        #expect(code.description == "LinkCode(****-****)")
    }

    @Test func encodesBitsMostSignificantFirst() throws {
        #expect(try LinkCode(randomBytes: [0, 0, 0, 0, 0]).code == "11111111")
        #expect(try LinkCode(randomBytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).code == "ZZZZZZZZ")
        #expect(try LinkCode(randomBytes: [0x08, 0x42, 0x10, 0x84, 0x21]).code == "22222222")
        #expect(try LinkCode(randomBytes: [0, 0, 0, 0, 0x1F]).code == "1111111Z")
        #expect(throws: PairingError(.keyLength)) { try LinkCode(randomBytes: [1, 2, 3, 4]) }
    }

    @Test func generatedCodesUseOnlyTheAlphabet() throws {
        var rng = SeededRandom(seed: 1)
        for _ in 0..<1_000 {
            let code = LinkCode.generate(using: &rng)
            #expect(code.code.utf8.count == 8)
            #expect(code.code.utf8.allSatisfy { LinkCode.alphabet.contains($0) })
            #expect(try LinkCode(parsing: code.display) == code)
        }
    }

    @Test(arguments: ["WTP2-CQCZ", "WTP2CQCZ", "wtp2-cqcz", "wTp2cQcZ"])
    func parsesTypedForms(text: String) throws {
        #expect(try LinkCode(parsing: text).code == "WTP2CQCZ")
    }

    @Test(arguments: [
        "", "WTP2CQC", "WTP2CQCZZ", "WTP-2CQCZ", "WTP2--CQCZ", "WTP2 CQCZ", " WTP2CQCZ", "WTP2CQC0",
        "WTP2CQCI", "WTP2CQCO", "WTP2CQCU", "WTP2-CQC", "-WTP2CQCZ", "WTP2CQCZ-", "WTP2‐CQCZ", "WTP2CQCé",
    ])
    func rejectsMalformedCodes(text: String) {
        #expect(throws: PairingError(.linkCodeFormat)) { try LinkCode(parsing: text) }
    }

    @Test func wrapsAndUnwrapsTheVectorKeys() throws {
        let vectors = try PairingVectors()
        let code = try LinkCode(parsing: vectors.string("link_code", "code"))
        let salt = try vectors.bytes("link_code", "salt")
        let key = try LinkCodeWrappedKey.key(code: code, salt: salt)
        #expect(try key == vectors.bytes("link_code", "pbkdf2_key"))

        let wrapped = try LinkCodeWrappedKey(
            wrapping: vectors.bytes("link_code", "companion_ephemeral_pub"),
            code: code, salt: salt, iv: vectors.bytes("link_code", "iv")
        )
        #expect(try wrapped.bytes == vectors.bytes("link_code", "wrapped_companion_ephemeral_pub_80"))

        let primary = try LinkCodeWrappedKey(bytes: vectors.bytes("link_code", "wrapped_primary_ephemeral_pub_80"))
        #expect(try primary.unwrap(code: code) == vectors.bytes("link_code", "primary_ephemeral_pub"))
    }

    @Test func counterCarriesAcrossTheWholeBlock() throws {
        // An IV of all ones makes the second block's counter wrap to zero: a 64-bit or 32-bit counter would differ.
        let code = try LinkCode(parsing: "11111111")
        let salt = [UInt8](repeating: 0, count: 32)
        let pub = [UInt8](repeating: 0, count: 32)
        let ones = try LinkCodeWrappedKey(wrapping: pub, code: code, salt: salt, iv: [UInt8](repeating: 0xFF, count: 16))
        let zero = try LinkCodeWrappedKey(wrapping: pub, code: code, salt: salt, iv: [UInt8](repeating: 0, count: 16))
        #expect(ones.ciphertext[16..<32] == zero.ciphertext[0..<16])
    }

    @Test(arguments: [0, 1, 32, 48, 79, 81, 156])
    func rejectsWrappedKeysOfWrongSize(count: Int) {
        #expect(throws: PairingError(.linkCodeWrappedKeyLength)) {
            try LinkCodeWrappedKey(bytes: [UInt8](repeating: 1, count: count))
        }
    }
}

@Suite struct PairingLinkCodeFlowTests {
    /// Both sides of the vector: companion_hello, primary_hello, companion_finish, with every intermediate.
    @Test func reproducesEveryVectorIntermediate() throws {
        let vectors = try PairingVectors()
        func bytes(_ key: String) throws -> [UInt8] { try vectors.bytes("link_code", key) }
        let code = try LinkCode(parsing: vectors.string("link_code", "code"))
        let companionIdentity = try Curve25519KeyPair(privateKey: vectors.bytes("companion", "identity_priv"))
        let primaryIdentity = try Curve25519KeyPair(privateKey: vectors.bytes("pair_success", "primary_identity_priv"))
        let companionEphemeral = try Curve25519KeyPair(privateKey: bytes("companion_ephemeral_priv"))
        let primaryEphemeral = try Curve25519KeyPair(privateKey: bytes("primary_ephemeral_priv"))
        #expect(companionEphemeral.publicKey == (try bytes("companion_ephemeral_pub")))
        #expect(primaryIdentity.publicKey == (try bytes("primary_identity_pub")))

        // Three PBKDF2 runs in all: the companion's wrap is checked in PairingLinkCodeTests.
        let companion = LinkCodeCompanion(
            code: code, ephemeral: companionEphemeral,
            wrappedEphemeral: try LinkCodeWrappedKey(bytes: bytes("wrapped_companion_ephemeral_pub_80"))
        )
        let primary = try LinkCodePrimary.accept(
            wrappedCompanionEphemeral: companion.wrappedEphemeral.bytes, code: code,
            ephemeral: primaryEphemeral, salt: bytes("primary_salt"), iv: bytes("primary_iv")
        )
        #expect(primary.companionEphemeralPublicKey == companionEphemeral.publicKey)
        #expect(primary.wrappedEphemeral.bytes == (try bytes("wrapped_primary_ephemeral_pub_80")))

        var companionRNG = try PairingReplayRNG(
            bytes("adv_random"), bytes("key_bundle_salt"), bytes("key_bundle_nonce") + [0, 0, 0, 0]
        )
        let finish = try companion.finish(
            wrappedPrimaryEphemeral: primary.wrappedEphemeral.bytes,
            primaryIdentityPublicKey: primaryIdentity.publicKey,
            identity: companionIdentity,
            using: &companionRNG
        )
        #expect(finish.wrappedKeyBundle == (try bytes("wrapped_key_bundle_156")))
        #expect(finish.advSecret == (try bytes("adv_secret")))

        let ephemeralShared = try LinkCodeSecrets.agree(companionEphemeral, primaryEphemeral.publicKey)
        #expect(ephemeralShared == (try bytes("ephemeral_shared")))
        let bundleKey = LinkCodeKeyBundle.key(ephemeralShared: ephemeralShared, salt: try bytes("key_bundle_salt"))
        #expect(try bundleKey == bytes("key_bundle_key"))
        let bundle = try LinkCodeKeyBundle(bytes: finish.wrappedKeyBundle)
        #expect(try bundle.open(ephemeralShared: ephemeralShared) == bytes("key_bundle_plaintext_96"))
        #expect(try LinkCodeSecrets.agree(companionIdentity, primaryIdentity.publicKey) == bytes("identity_shared"))

        let phoneSecret = try primary.finish(
            wrappedKeyBundle: finish.wrappedKeyBundle,
            companionIdentityPublicKey: companionIdentity.publicKey,
            identity: primaryIdentity
        )
        #expect(phoneSecret == (try bytes("adv_secret")))
    }

    @Test func aMistypedCodeFailsWhenThePhoneOpensTheBundle() throws {
        var rng = SeededRandom(seed: 3)
        let companionIdentity = Curve25519KeyPair.generate(using: &rng)
        let primaryIdentity = Curve25519KeyPair.generate(using: &rng)
        let companion = try LinkCodeCompanion.start(using: &rng)
        var typo = LinkCode.generate(using: &rng)
        while typo == companion.code { typo = LinkCode.generate(using: &rng) }

        let primary = try LinkCodePrimary.accept(
            wrappedCompanionEphemeral: companion.wrappedEphemeral.bytes, code: typo, using: &rng
        )
        #expect(primary.companionEphemeralPublicKey != companion.ephemeral.publicKey)
        let finish = try companion.finish(
            wrappedPrimaryEphemeral: primary.wrappedEphemeral.bytes,
            primaryIdentityPublicKey: primaryIdentity.publicKey,
            identity: companionIdentity,
            using: &rng
        )
        #expect(throws: PairingError(.linkCodeBundleAuthentication)) {
            try primary.finish(
                wrappedKeyBundle: finish.wrappedKeyBundle,
                companionIdentityPublicKey: companionIdentity.publicKey,
                identity: primaryIdentity
            )
        }
    }

    @Test func phoneChecksBothIdentityKeysInTheBundle() throws {
        var rng = SeededRandom(seed: 4)
        let companionIdentity = Curve25519KeyPair.generate(using: &rng)
        let primaryIdentity = Curve25519KeyPair.generate(using: &rng)
        let impostor = Curve25519KeyPair.generate(using: &rng)
        let companion = LinkCodeCompanion(
            code: try LinkCode(parsing: "11111111"),
            ephemeral: Curve25519KeyPair.generate(using: &rng),
            wrappedEphemeral: try LinkCodeWrappedKey(bytes: [UInt8](repeating: 0, count: 80))
        )
        let primary = LinkCodePrimary(
            code: companion.code, companionEphemeralPublicKey: companion.ephemeral.publicKey,
            ephemeral: Curve25519KeyPair.generate(using: &rng),
            wrappedEphemeral: try LinkCodeWrappedKey(bytes: [UInt8](repeating: 0, count: 80))
        )
        let ephemeralShared = try LinkCodeSecrets.agree(companion.ephemeral, primary.ephemeral.publicKey)
        func bundle(companion: [UInt8], primary: [UInt8]) throws -> [UInt8] {
            try LinkCodeKeyBundle.seal(
                companionIdentity: companion, primaryIdentity: primary, advRandom: [UInt8](repeating: 9, count: 32),
                ephemeralShared: ephemeralShared, salt: [UInt8](repeating: 1, count: 32), nonce: [UInt8](repeating: 2, count: 12)
            )
        }
        #expect(throws: PairingError(.linkCodeIdentityMismatch)) {
            try primary.finish(
                wrappedKeyBundle: bundle(companion: impostor.publicKey, primary: primaryIdentity.publicKey),
                companionIdentityPublicKey: companionIdentity.publicKey, identity: primaryIdentity
            )
        }
        #expect(throws: PairingError(.linkCodeIdentityMismatch)) {
            try primary.finish(
                wrappedKeyBundle: bundle(companion: companionIdentity.publicKey, primary: impostor.publicKey),
                companionIdentityPublicKey: companionIdentity.publicKey, identity: primaryIdentity
            )
        }
        #expect(throws: Never.self) {
            try primary.finish(
                wrappedKeyBundle: bundle(companion: companionIdentity.publicKey, primary: primaryIdentity.publicKey),
                companionIdentityPublicKey: companionIdentity.publicKey, identity: primaryIdentity
            )
        }
    }

    /// whatsmeow reads the first 80 bytes of a longer wrapped primary key; a phone that appends
    /// bytes must not fail the pairing here while it works there.
    @Test func aWrappedPrimaryKeyLongerThanEightyBytesIsReadFromItsFirstEighty() throws {
        let vectors = try PairingVectors()
        func bytes(_ key: String) throws -> [UInt8] { try vectors.bytes("link_code", key) }
        let companion = LinkCodeCompanion(
            code: try LinkCode(parsing: vectors.string("link_code", "code")),
            ephemeral: try Curve25519KeyPair(privateKey: bytes("companion_ephemeral_priv")),
            wrappedEphemeral: try LinkCodeWrappedKey(bytes: bytes("wrapped_companion_ephemeral_pub_80"))
        )
        let identity = try Curve25519KeyPair(privateKey: vectors.bytes("companion", "identity_priv"))
        let primaryIdentity = try bytes("primary_identity_pub")
        let longer = try bytes("wrapped_primary_ephemeral_pub_80") + [0xDE, 0xAD, 0xBE, 0xEF]
        let finish = try companion.finish(
            wrappedPrimaryEphemeral: longer, primaryIdentityPublicKey: primaryIdentity, identity: identity,
            advRandom: bytes("adv_random"), bundleSalt: bytes("key_bundle_salt"), bundleNonce: bytes("key_bundle_nonce")
        )
        #expect(finish.wrappedKeyBundle == (try bytes("wrapped_key_bundle_156")))
        #expect(finish.advSecret == (try bytes("adv_secret")))
    }

    @Test func sizesAreCheckedBeforeAnyKeyDerivation() throws {
        var rng = SeededRandom(seed: 5)
        let identity = Curve25519KeyPair.generate(using: &rng)
        let companion = LinkCodeCompanion(
            code: try LinkCode(parsing: "11111111"), ephemeral: identity,
            wrappedEphemeral: try LinkCodeWrappedKey(bytes: [UInt8](repeating: 0, count: 80))
        )
        let wrapped = [UInt8](repeating: 0, count: 80)
        #expect(throws: PairingError(.linkCodeWrappedKeyLength)) {
            try companion.finish(wrappedPrimaryEphemeral: Array(wrapped.dropLast()), primaryIdentityPublicKey: identity.publicKey,
                                 identity: identity, using: &rng)
        }
        #expect(throws: PairingError(.keyLength)) {
            try companion.finish(wrappedPrimaryEphemeral: wrapped, primaryIdentityPublicKey: [1], identity: identity, using: &rng)
        }
        #expect(throws: PairingError(.linkCodeWrappedKeyLength)) {
            try LinkCodePrimary.accept(wrappedCompanionEphemeral: [], code: companion.code, using: &rng)
        }
        let primary = LinkCodePrimary(
            code: companion.code, companionEphemeralPublicKey: identity.publicKey, ephemeral: identity,
            wrappedEphemeral: companion.wrappedEphemeral
        )
        for count in [0, 44, 155, 157, 1024] {
            #expect(throws: PairingError(.linkCodeBundleLength)) {
                try primary.finish(wrappedKeyBundle: [UInt8](repeating: 0, count: count),
                                   companionIdentityPublicKey: identity.publicKey, identity: identity)
            }
        }
        #expect(throws: PairingError(.keyLength)) {
            try primary.finish(wrappedKeyBundle: [UInt8](repeating: 0, count: 156), companionIdentityPublicKey: [], identity: identity)
        }
        // An all-zero (low-order) ephemeral is refused by the agreement, not turned into a predictable secret.
        let lowOrder = LinkCodePrimary(
            code: companion.code, companionEphemeralPublicKey: [UInt8](repeating: 0, count: 32), ephemeral: identity,
            wrappedEphemeral: companion.wrappedEphemeral
        )
        #expect(throws: PairingError(.linkCodeKeyAgreement)) {
            try lowOrder.finish(wrappedKeyBundle: [UInt8](repeating: 0, count: 156),
                                companionIdentityPublicKey: identity.publicKey, identity: identity)
        }
    }
}
