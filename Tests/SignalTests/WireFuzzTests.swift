import Testing
import WAWire

@testable import Signal

/// Random and mutated `pkmsg`, `msg`, `skmsg` and distribution messages through the parsers and on
/// into decryption: never a crash, only `SignalError`s, and nothing forged ever decrypts.
@Suite struct WireFuzzTests {
    typealias Kit = SignalTestKit

    /// A session in which Bob holds Alice's session and valid messages of both kinds from Alice.
    struct SessionCorpus {
        var pair: SessionPair
        let preKeyMessages: [SessionCipher.Encryption]
        let whisperMessages: [SessionCipher.Encryption]
        let plaintexts: Set<[UInt8]>

        init(seed: UInt64) throws {
            var pair = try SessionPair(seed: seed)
            try pair.aliceInitiates()
            let preKeyMessages = try (0..<4).map { try pair.aliceSends("prekey \($0)") }
            _ = try pair.bobReceives(preKeyMessages[0])
            _ = try pair.aliceReceives(try pair.bobSends("reply"))
            let whisperMessages = try (0..<4).map { try pair.aliceSends("whisper \($0)") }
            self.pair = pair
            self.preKeyMessages = preKeyMessages
            self.whisperMessages = whisperMessages
            plaintexts = Set((0..<4).flatMap { [Array("prekey \($0)".utf8), Array("whisper \($0)".utf8)] })
        }
    }

    // 4 × 25,000 inputs each, run as parallel cases; a quarter of the parsed mutants go on into
    // decryption (a changed ratchet or base key costs X25519 agreements, the slow part in debug).
    @Test(arguments: 0..<4 as Range<UInt64>)
    func preKeyMessagesNeverCrashOrForge(part: UInt64) async throws {
        var corpus = try SessionCorpus(seed: 0x516_0000 + part)
        var generator = SeededRandom(seed: 0x516_1000 + part)
        let vectors = try Kit.vector("signal-session")["cases"].array.flatMap { $0["messages"].array }
            .filter { try $0["type"].string() == "pkmsg" }.map { try $0["serialized"].bytes() }
        let valid = corpus.preKeyMessages.map(\.serialized) + vectors
        var parsed = 0
        for step in 0..<25_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let input = generator.below(4) == 0
                ? FuzzMutator.random(maximum: 200, versionByte: 0x33, using: &generator)
                : FuzzMutator.mutate(valid[generator.below(valid.count)], using: &generator)
            let message: PreKeyWhisperMessage
            do {
                message = try PreKeyWhisperMessage(parsing: input)
            } catch {
                continue
            }
            parsed += 1
            #expect(message.baseKey.count == 32 && message.identityKey.count == 32)
            #expect(message.message.ciphertext.count % 16 == 0)
            guard generator.below(4) == 0 else {
                continue
            }
            let pair = corpus.pair
            do {
                let decryption = try SessionCipher.decrypt(
                    message, record: pair.bobRecord, local: pair.bob,
                    signedPreKey: { $0 == pair.signedPreKeyID ? pair.signedPreKey : nil },
                    oneTimePreKey: { pair.oneTimePreKeys[$0] },
                    using: &corpus.pair.generator
                )
                // Only fields outside the MAC may have changed (e.g. the registration id).
                #expect(corpus.plaintexts.contains(decryption.plaintext))
            } catch {
                continue
            }
        }
        #expect(parsed > 1_000)
    }

    @Test(arguments: 0..<4 as Range<UInt64>)
    func whisperMessagesNeverCrashOrForge(part: UInt64) async throws {
        var corpus = try SessionCorpus(seed: 0x516_2000 + part)
        var generator = SeededRandom(seed: 0x516_3000 + part)
        let vectors = try Kit.vector("signal-session")["cases"].array.flatMap { $0["messages"].array }
            .map { try $0["parsed"]["whisper_message"]["serialized"].bytes() }
        let valid = corpus.whisperMessages.map(\.serialized) + vectors
        var parsed = 0
        var decrypted = 0
        for step in 0..<25_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let input = generator.below(4) == 0
                ? FuzzMutator.random(maximum: 120, versionByte: 0x33, using: &generator)
                : FuzzMutator.mutate(valid[generator.below(valid.count)], using: &generator)
            let message: WhisperMessage
            do {
                message = try WhisperMessage(parsing: input)
            } catch {
                continue
            }
            parsed += 1
            #expect(message.ratchetKey.count == 32 && message.ciphertext.count % 16 == 0)
            guard generator.below(4) == 0 else {
                continue
            }
            do {
                let decryption = try SessionCipher.decrypt(message, record: corpus.pair.bobRecord, using: &corpus.pair.generator)
                // The MAC covers everything: only an unchanged message decrypts.
                #expect(corpus.whisperMessages.map(\.serialized).contains(input))
                #expect(corpus.plaintexts.contains(decryption.plaintext))
                decrypted += 1
            } catch {
                continue
            }
        }
        #expect(parsed > 1_000)
        #expect(decrypted < parsed)
    }

    @Test(arguments: 0..<4 as Range<UInt64>)
    func senderKeyMessagesNeverCrashOrForge(part: UInt64) async throws {
        var group = try GroupBehaviourTests.Group(seed: 0x516_4000 + part)
        var generator = SeededRandom(seed: 0x516_5000 + part)
        let originals = try (0..<4).map { try group.send("group \($0)") }
        let vector = try Kit.vector("signal-group")
        let valid = originals + (try vector["messages"].array.map { try $0["serialized"].bytes() })
        var parsed = 0
        for step in 0..<25_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let input = generator.below(4) == 0
                ? FuzzMutator.random(maximum: 160, versionByte: 0x33, using: &generator)
                : FuzzMutator.mutate(valid[generator.below(valid.count)], using: &generator)
            let message: SenderKeyMessage
            do {
                message = try SenderKeyMessage(parsing: input)
            } catch {
                continue
            }
            parsed += 1
            #expect(message.ciphertext.count % 16 == 0)
            guard generator.below(4) == 0 else {
                continue
            }
            do {
                _ = try GroupCipher.decrypt(message, record: group.receiver)
                // The signature covers everything: only an unchanged message decrypts.
                #expect(originals.contains(input))
            } catch {
                continue
            }
        }
        #expect(parsed > 1_000)
    }

    @Test(arguments: 0..<4 as Range<UInt64>)
    func distributionMessagesNeverCrash(part: UInt64) async throws {
        var generator = SeededRandom(seed: 0x516_6000 + part)
        let vector = try Kit.vector("signal-group")
        var valid = [try vector["sender_key_distribution_message"]["serialized"].bytes()]
        for _ in 0..<3 {
            valid.append(try GroupCipher.distributionMessage(record: SenderKeyRecord(), using: &generator).message.serialized)
        }
        var parsed = 0
        for step in 0..<25_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let input = generator.below(4) == 0
                ? FuzzMutator.random(maximum: 100, versionByte: 0x33, using: &generator)
                : FuzzMutator.mutate(valid[generator.below(valid.count)], using: &generator)
            guard let message = try? SenderKeyDistributionMessage(parsing: input) else {
                continue
            }
            parsed += 1
            #expect(message.chainKey.count == 32 && message.signingKey.count == 32)
            _ = GroupCipher.process(message, record: SenderKeyRecord())
        }
        #expect(parsed > 1_000)
    }
}
