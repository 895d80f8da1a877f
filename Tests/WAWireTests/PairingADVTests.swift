import Testing
@testable import WAWire

@Suite struct PairingADVTests {
    struct Fixture {
        let vectors: PairingVectors
        let identity: Curve25519KeyPair
        let advSecret: [UInt8]
        let container: [UInt8]
        let signedIdentity: [UInt8]
        let details: [UInt8]
        let accountKey: [UInt8]
        let accountSignature: [UInt8]

        init() throws {
            vectors = try PairingVectors()
            identity = try Curve25519KeyPair(privateKey: vectors.bytes("companion", "identity_priv"))
            advSecret = try vectors.bytes("companion", "adv_secret")
            container = try vectors.bytes("pair_success", "ADVSignedDeviceIdentityHMAC_bytes")
            signedIdentity = try vectors.bytes("pair_success", "ADVSignedDeviceIdentity_bytes")
            details = try vectors.bytes("pair_success", "ADVDeviceIdentity_bytes")
            accountKey = try vectors.bytes("pair_success", "primary_identity_pub_aka_accountSignatureKey")
            accountSignature = try vectors.bytes("pair_success", "accountSignature")
        }

        /// The vector's identity as the phone would issue it (explicit `18 00` at the end of the container).
        func issued(hosted: Bool = false) throws -> ADVIssuedIdentity {
            try ADVIssuedIdentity(
                details: details, keyIndex: 19, hosted: hosted, accountSignatureKey: accountKey,
                accountSignature: accountSignature, companionIdentityPublicKey: identity.publicKey, advSecret: advSecret
            )
        }
    }

    @Test func verifiesTheVectorAndSignsTheReply() throws {
        let fixture = try Fixture()
        #expect(fixture.identity.publicKey == (try fixture.vectors.bytes("companion", "identity_pub")))
        let randomness = try fixture.vectors.bytes("companion", "signing_random64")
        var rng = PairingReplayRNG(randomness)
        let verified = try ADVCompanion.verify(
            deviceIdentity: fixture.container, advSecret: fixture.advSecret, identity: fixture.identity, using: &rng
        )
        #expect(verified.details == fixture.details)
        #expect(verified.rawID == 1_234_567_890)
        #expect(verified.timestamp == 1_760_000_000)
        #expect(verified.keyIndex == 19)
        #expect(verified.keyIndexAttribute == (try fixture.vectors.string("pair_device_sign", "key_index_attr")))
        #expect(!verified.isHosted)
        #expect(verified.accountSignatureKey == fixture.accountKey)
        #expect(verified.accountSignature == fixture.accountSignature)

        // The signature bytes are CurveSignature's business (the vector's libsignal bytes need a signer that
        // does not negate the scalar); here: the vector's randomness reaches the signer and the result verifies.
        let deviceMessage = try fixture.vectors.bytes("pair_device_sign", "device_signature_message")
        #expect(try verified.deviceSignature
            == CurveSignature.sign(deviceMessage, privateKey: fixture.identity.privateKey, randomness: randomness))
        #expect(CurveSignature.isValid(verified.deviceSignature, for: deviceMessage, publicKey: fixture.identity.publicKey))
        #expect(verified.account == fixture.signedIdentity + [0x22, 0x40] + verified.deviceSignature)

        // The vector's reply carries the deterministic signature; ours differs only in those 64 bytes.
        let vectorReply = try fixture.vectors.bytes("pair_device_sign", "reply_ADVSignedDeviceIdentity_bytes_deterministic")
        #expect(verified.reply.count == vectorReply.count)
        #expect(Array(verified.reply.dropLast(64)) == Array(vectorReply.dropLast(64)))
        #expect(Array(verified.reply.suffix(64)) == verified.deviceSignature)
        #expect(!verified.reply.contains(subsequence: fixture.accountKey))
    }

    @Test func signsWithFreshRandomnessByDefault() throws {
        let fixture = try Fixture()
        let verified = try ADVCompanion.verify(
            deviceIdentity: fixture.container, advSecret: fixture.advSecret, identity: fixture.identity
        )
        #expect(try fixture.issued().verifyReply(verified.reply) == verified.deviceSignature)
    }

    @Test func phoneAcceptsTheVectorReply() throws {
        let fixture = try Fixture()
        let reply = try fixture.vectors.bytes("pair_device_sign", "reply_ADVSignedDeviceIdentity_bytes_deterministic")
        #expect(try fixture.issued().verifyReply(reply)
            == fixture.vectors.bytes("pair_device_sign", "deviceSignature_deterministic"))
    }

    @Test func phoneEncodesZeroEnumsExplicitly() throws {
        let fixture = try Fixture()
        let details = try ADVIssuedIdentity.deviceIdentityDetails(
            rawID: 1_234_567_890, timestamp: 1_760_000_000, keyIndex: 19, hosted: false
        )
        #expect(details == fixture.details)
        #expect(Array(details.suffix(4)) == [0x20, 0x00, 0x28, 0x00])
        // The vector container omits accountType; the real server (and our phone) writes `18 00`.
        #expect(try fixture.issued().deviceIdentity == fixture.container + [0x18, 0x00])
        let hostedDetails = try ADVIssuedIdentity.deviceIdentityDetails(rawID: 1, timestamp: 2, keyIndex: 3, hosted: true)
        #expect(Array(hostedDetails.suffix(4)) == [0x20, 0x01, 0x28, 0x01])
    }

    @Test func hostedContainerMACsWithThe0605Prefix() throws {
        let fixture = try Fixture()
        let hosted = try fixture.issued(hosted: true).deviceIdentity
        let hmac = try fixture.vectors.bytes("pair_success_hosted_variant", "hmac")
        #expect(hosted == [0x0A, 0x78] + fixture.signedIdentity + [0x12, 0x20] + hmac + [0x18, 0x01])
        // The inner deviceType is still E2EE, so the account signature keeps its 06 00 prefix and verifies.
        let verified = try ADVCompanion.verify(deviceIdentity: hosted, advSecret: fixture.advSecret, identity: fixture.identity)
        #expect(!verified.isHosted)
        // An E2EE container with the hosted MAC must fail: the prefix is part of what is authenticated.
        let mislabelled = Array(hosted.dropLast(2)) + [0x18, 0x00]
        #expect(throws: PairingError(.advHMACMismatch)) {
            try ADVCompanion.verify(deviceIdentity: mislabelled, advSecret: fixture.advSecret, identity: fixture.identity)
        }
    }

    @Test(arguments: [false, true])
    func phoneAndCompanionAgreeEndToEnd(hosted: Bool) throws {
        var rng = SeededRandom(seed: hosted ? 2 : 1)
        let companion = CompanionKeys.generate(using: &rng)
        let phone = Curve25519KeyPair.generate(using: &rng)
        let issued = try ADVIssuedIdentity.issue(
            rawID: 987_654, timestamp: 1_770_000_000, keyIndex: 4, hosted: hosted, account: phone,
            companionIdentityPublicKey: companion.identity.publicKey, advSecret: companion.advSecret, using: &rng
        )
        let verified = try ADVCompanion.verify(
            deviceIdentity: issued.deviceIdentity, advSecret: companion.advSecret, identity: companion.identity, using: &rng
        )
        #expect(verified.isHosted == hosted)
        #expect(verified.keyIndex == 4)
        #expect(verified.accountSignatureKey == phone.publicKey)
        #expect(try issued.verifyReply(verified.reply) == verified.deviceSignature)
    }

    @Test func mapsEachFailureToWhatsmeowsErrorReply() throws {
        let fixture = try Fixture()
        func verify(_ container: [UInt8], secret: [UInt8]? = nil) throws {
            _ = try ADVCompanion.verifiedMessage(
                deviceIdentity: container, advSecret: secret ?? fixture.advSecret, identity: fixture.identity
            )
        }
        func wrapped(_ signedIdentity: [UInt8]) throws -> [UInt8] {
            try ADVIssuedIdentity.container(signedIdentity: signedIdentity, advSecret: fixture.advSecret, hosted: false)
        }
        func reply(for error: PairingError.Code, _ body: () throws -> Void) -> PairSuccessErrorReply? {
            #expect(throws: PairingError(error)) { try body() }
            return PairingError(error).pairSuccessErrorReply
        }
        let hmacMismatch = PairSuccessErrorReply(code: 401, text: "hmac-mismatch")
        let signatureMismatch = PairSuccessErrorReply(code: 401, text: "signature-mismatch")
        let internalError = PairSuccessErrorReply.internalError

        var badMAC = fixture.container
        badMAC[badMAC.count - 1] ^= 1
        #expect(reply(for: .advHMACMismatch) { try verify(badMAC) } == hmacMismatch)
        #expect(reply(for: .advHMACMismatch) { try verify(fixture.container, secret: [UInt8](repeating: 0, count: 32)) }
            == hmacMismatch)
        #expect(reply(for: .advHMACMismatch) { try verify([]) } == hmacMismatch)
        #expect(reply(for: .advMalformedContainer) { try verify([0x0A, 0x05, 0x01]) } == internalError)
        #expect(reply(for: .advContainerTooLarge) {
            try verify([UInt8](repeating: 0, count: ADVCompanion.maxDeviceIdentitySize + 1))
        } == internalError)
        #expect(reply(for: .keyLength) { try verify(fixture.container, secret: [1]) } == internalError)
        #expect(reply(for: .advMalformedSignedIdentity) { try verify(wrapped([0x0A, 0xFF])) } == internalError)
        #expect(reply(for: .advMalformedDeviceIdentity) { try verify(wrapped([0x0A, 0x01, 0x08])) } == internalError)

        var badSignature = fixture.signedIdentity
        badSignature[badSignature.count - 1] ^= 0x01
        #expect(reply(for: .advAccountSignatureMismatch) { try verify(wrapped(badSignature)) } == signatureMismatch)
        // Signature fields of the wrong length are answered as a signature mismatch, as whatsmeow does.
        #expect(reply(for: .advAccountSignatureMismatch) { try verify(wrapped(Array(fixture.signedIdentity.prefix(20)))) }
            == signatureMismatch)
        // Verified for another companion: the companion's identity key is part of the signed message.
        let stranger = Curve25519KeyPair.generate()
        #expect(throws: PairingError(.advAccountSignatureMismatch)) {
            _ = try ADVCompanion.verifiedMessage(
                deviceIdentity: fixture.container, advSecret: fixture.advSecret, identity: stranger
            )
        }
        #expect(PairingError(.qrKeyLength).pairSuccessErrorReply == nil)
    }

    @Test func phoneRejectsForgedReplies() throws {
        let fixture = try Fixture()
        let issued = try fixture.issued()
        let reply = try fixture.vectors.bytes("pair_device_sign", "reply_ADVSignedDeviceIdentity_bytes_deterministic")
        var badSignature = reply
        badSignature[badSignature.count - 1] ^= 0x01
        #expect(throws: PairingError(.advDeviceSignatureMismatch)) { try issued.verifyReply(badSignature) }
        var otherDetails = reply
        otherDetails[3] ^= 0x01
        #expect(throws: PairingError(.advReplyMismatch)) { try issued.verifyReply(otherDetails) }
        #expect(throws: PairingError(.advMalformedSignedIdentity)) { try issued.verifyReply([0x0A]) }
        #expect(throws: PairingError(.advContainerTooLarge)) {
            try issued.verifyReply([UInt8](repeating: 0, count: ADVCompanion.maxDeviceIdentitySize + 1))
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<$0 + subsequence.count]) == subsequence }
    }
}
