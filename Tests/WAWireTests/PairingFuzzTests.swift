import Testing
@testable import WAWire

/// Hostile input for every pairing decoder: seeded, so a failure replays exactly. Each must throw a typed
/// PairingError or return a value, never trap; the counts prove the deeper paths were reached.
@Suite struct PairingFuzzTests {
    static let iterations = 100_000

    static func failure(_ body: () throws(PairingError) -> Void) -> PairingError.Code? {
        do {
            try body()
            return nil
        } catch {
            return error.code
        }
    }

    /// Random structural damage: bit flips, overwrites, insertions, deletions, truncation, duplication.
    static func mutate(_ input: [UInt8], using rng: inout SeededRandom) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<8, using: &rng) {
            case 0 where !bytes.isEmpty: bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !bytes.isEmpty: bytes[position] = UInt8.random(in: .min ... .max, using: &rng)
            case 2: bytes.insert(contentsOf: rng.bytes(Int.random(in: 1...8, using: &rng)), at: position)
            case 3 where !bytes.isEmpty:
                bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...16, using: &rng)))
            case 4: bytes = Array(bytes.prefix(position))
            case 5 where !bytes.isEmpty:
                bytes.insert(contentsOf: bytes[position..<min(bytes.count, position + 16)], at: position)
            case 6: bytes.insert(contentsOf: [UInt8](repeating: 0xFF, count: Int.random(in: 1...10, using: &rng)), at: position)
            default: bytes.append(contentsOf: rng.bytes(Int.random(in: 1...4, using: &rng)))
            }
        }
        return bytes
    }

    @Test func qrParseSurvivesHostileStrings() async throws {
        let vectors = try PairingVectors()
        let valid = Array(try vectors.string("qr", "qr_string").utf8)
        let legacy = Array(valid.dropFirst(PairingQR.prefix.utf8.count).split(separator: UInt8(ascii: ","))
            .prefix(4).joined(separator: [UInt8(ascii: ",")]))
        let symbols = Array("AZaz09+/=,#@:2 ".utf8)
        var rng = SeededRandom(seed: 0x51)
        var accepted = 0
        var codes: Set<String> = []
        for iteration in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if iteration % 256 == 0 { await Task.yield() }
            let bytes: [UInt8]
            switch iteration % 4 {
            case 0: bytes = rng.bytes(Int.random(in: 0...400, using: &rng))
            case 1: bytes = (0..<Int.random(in: 0...300, using: &rng)).map { _ in symbols.randomElement(using: &rng) ?? 0 }
            case 2: bytes = Self.mutate(valid, using: &rng)
            default: bytes = Self.mutate(legacy, using: &rng)
            }
            do {
                let qr = try PairingQR.parse(String(decoding: bytes, as: UTF8.self))
                #expect(try PairingQR.parse(qr.string) == qr)
                accepted += 1
            } catch {
                codes.insert(error.code.description)
            }
        }
        #expect(accepted > 0)
        #expect(codes.isSuperset(of: ["qr_field_count", "qr_invalid_base64", "qr_key_length", "qr_invalid_ref",
                                      "qr_unknown_platform", "qr_prefix_mismatch"]))
    }

    @Test func advContainerSurvivesHostileBytes() async throws {
        let fixture = try PairingADVTests.Fixture()
        var rng = SeededRandom(seed: 0xAD)
        var codes: [String: Int] = [:]
        for iteration in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if iteration % 256 == 0 { await Task.yield() }
            let container: [UInt8]
            switch iteration % 4 {
            case 0: container = rng.bytes(Int.random(in: 0...300, using: &rng))
            case 1: container = Self.mutate(fixture.container, using: &rng)
            default:
                // A valid MAC around damaged contents reaches the inner decoders and the signature check.
                container = try ADVIssuedIdentity.container(
                    signedIdentity: Self.mutate(fixture.signedIdentity, using: &rng), advSecret: fixture.advSecret,
                    hosted: iteration % 8 == 2
                )
            }
            do {
                _ = try ADVCompanion.verifiedMessage(
                    deviceIdentity: container, advSecret: fixture.advSecret, identity: fixture.identity
                )
                codes["accepted", default: 0] += 1
            } catch {
                codes[error.code.description, default: 0] += 1
                #expect(error.pairSuccessErrorReply != nil)
            }
        }
        for reached in ["adv_hmac_mismatch", "adv_malformed_container", "adv_malformed_signed_identity",
                        "adv_malformed_device_identity", "adv_account_signature_mismatch"] {
            #expect(codes[reached, default: 0] > 0, "never reached \(reached): \(codes)")
        }
    }

    @Test func phoneReplyCheckSurvivesHostileBytes() async throws {
        let fixture = try PairingADVTests.Fixture()
        let issued = try fixture.issued()
        let reply = try fixture.vectors.bytes("pair_device_sign", "reply_ADVSignedDeviceIdentity_bytes_deterministic")
        var rng = SeededRandom(seed: 0xAE)
        var codes: Set<String> = []
        for iteration in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if iteration % 256 == 0 { await Task.yield() }
            let bytes = iteration % 2 == 0 ? rng.bytes(Int.random(in: 0...200, using: &rng)) : Self.mutate(reply, using: &rng)
            do {
                _ = try issued.verifyReply(bytes)
            } catch {
                codes.insert(error.code.description)
            }
        }
        #expect(codes.isSuperset(of: ["adv_malformed_signed_identity", "adv_reply_mismatch", "adv_device_signature_mismatch"]))
    }

    @Test func linkCodeParsingSurvivesHostileText() async {
        let symbols = Array("123456789ABCDEFGHJKLMNPQRSTVWXYZabcdxyz0IOU- é".utf8)
        var rng = SeededRandom(seed: 0x1C)
        var accepted = 0
        for iteration in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if iteration % 256 == 0 { await Task.yield() }
            let bytes = iteration % 2 == 0
                ? rng.bytes(Int.random(in: 0...12, using: &rng))
                : (0..<Int.random(in: 7...10, using: &rng)).map { _ in symbols.randomElement(using: &rng) ?? 0 }
            guard let code = try? LinkCode(parsing: String(decoding: bytes, as: UTF8.self)) else { continue }
            accepted += 1
            #expect(code.code.utf8.count == 8 && code.code.utf8.allSatisfy { LinkCode.alphabet.contains($0) })
        }
        #expect(accepted > 0)
    }

    /// Wrong sizes must be refused before PBKDF2: at 131,072 rounds, a single leak would make this test crawl.
    @Test func linkCodeMessagesOfWrongSizeAreRefusedBeforeTheKDF() async throws {
        var rng = SeededRandom(seed: 0x80)
        let identity = Curve25519KeyPair.generate(using: &rng)
        let code = try LinkCode(parsing: "WTP2CQCZ")
        let companion = LinkCodeCompanion(
            code: code, ephemeral: identity, wrappedEphemeral: try LinkCodeWrappedKey(bytes: rng.bytes(80))
        )
        var refused = 0
        for step in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            var count = Int.random(in: 0...200, using: &rng)
            if count == 80 { count = 81 }
            let bytes = rng.bytes(count)
            // Plain calls: three #expect(throws:) per input would dominate the run time.
            let tooShortOrLong = PairingError.Code.linkCodeWrappedKeyLength
            guard Self.failure({ () throws(PairingError) in _ = try LinkCodeWrappedKey(bytes: bytes) }) == tooShortOrLong,
                  // The phone's key may be longer (its first 80 bytes count, as in whatsmeow), never shorter.
                  count > 80 || Self.failure({ () throws(PairingError) in
                      _ = try companion.finish(
                          wrappedPrimaryEphemeral: bytes, primaryIdentityPublicKey: identity.publicKey,
                          identity: identity, using: &rng
                      )
                  }) == tooShortOrLong,
                  Self.failure({ () throws(PairingError) in
                      _ = try LinkCodePrimary.accept(wrappedCompanionEphemeral: bytes, code: code, using: &rng)
                  }) == tooShortOrLong
            else {
                continue
            }
            refused += 1
        }
        #expect(refused == Self.iterations)
        for step in 0..<1_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let wrapped = try LinkCodeWrappedKey(bytes: rng.bytes(80))
            #expect(wrapped.bytes.count == 80)
        }
    }

    @Test func keyBundleSurvivesHostileBytes() async throws {
        var rng = SeededRandom(seed: 0xB0)
        let companionIdentity = Curve25519KeyPair.generate(using: &rng)
        let primaryIdentity = Curve25519KeyPair.generate(using: &rng)
        let companionEphemeral = Curve25519KeyPair.generate(using: &rng)
        let primary = LinkCodePrimary(
            code: try LinkCode(parsing: "11111111"), companionEphemeralPublicKey: companionEphemeral.publicKey,
            ephemeral: Curve25519KeyPair.generate(using: &rng), wrappedEphemeral: try LinkCodeWrappedKey(bytes: rng.bytes(80))
        )
        let ephemeralShared = try LinkCodeSecrets.agree(companionEphemeral, primary.ephemeral.publicKey)
        let valid = try LinkCodeKeyBundle.seal(
            companionIdentity: companionIdentity.publicKey, primaryIdentity: primaryIdentity.publicKey,
            advRandom: rng.bytes(32), ephemeralShared: ephemeralShared, salt: rng.bytes(32), nonce: rng.bytes(12)
        )
        var codes: [String: Int] = [:]
        for iteration in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if iteration % 256 == 0 { await Task.yield() }
            let bundle: [UInt8]
            switch iteration % 3 {
            case 0: bundle = rng.bytes(iteration % 6 == 0 ? 156 : Int.random(in: 0...400, using: &rng))
            case 1: bundle = Self.mutate(valid, using: &rng)
            default:
                // Same length, one byte changed: only the GCM tag stands between it and the ADV secret.
                var flipped = valid
                flipped[Int.random(in: 0..<156, using: &rng)] ^= UInt8.random(in: 1 ... .max, using: &rng)
                bundle = flipped
            }
            guard bundle != valid else { continue }
            do {
                _ = try primary.finish(
                    wrappedKeyBundle: bundle, companionIdentityPublicKey: companionIdentity.publicKey, identity: primaryIdentity
                )
                codes["accepted", default: 0] += 1
            } catch {
                codes[error.code.description, default: 0] += 1
            }
        }
        #expect(codes["accepted", default: 0] == 0, "\(codes)")
        #expect(codes["link_code_bundle_length", default: 0] > 0)
        #expect(codes["link_code_bundle_authentication", default: 0] > 0)
        #expect(try primary.finish(
            wrappedKeyBundle: valid, companionIdentityPublicKey: companionIdentity.publicKey, identity: primaryIdentity
        ).count == 32)
    }
}
