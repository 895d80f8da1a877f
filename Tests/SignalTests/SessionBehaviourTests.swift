import Testing
import WAWire

@testable import Signal

/// The ratchet's behaviour beyond the vectors: ordering, replays, bounds, tampering, prekeys, archives.
@Suite struct SessionBehaviourTests {
    typealias Kit = SignalTestKit

    @Test func aliceSendsPreKeyMessagesUntilSheDecryptsFromBob() throws {
        var pair = try SessionPair(seed: 1)
        try pair.aliceInitiates()
        let first = try pair.aliceSends("one")
        let second = try pair.aliceSends("two")
        #expect(first.type == .pkmsg && second.type == .pkmsg)
        #expect(try pair.bobReceives(first) == "one")
        #expect(pair.bobRecord.current?.hasUnacknowledgedPreKeyMessage == false)
        #expect(try pair.bobSends("reply").type == .msg)
        // Bob's reply is still in flight: Alice has not heard from him.
        #expect(try pair.aliceSends("three").type == .pkmsg)
        #expect(try pair.bobReceives(second) == "two")
        let reply = try pair.bobSends("reply 2")
        #expect(try pair.aliceReceives(reply) == "reply 2")
        #expect(try pair.aliceSends("four").type == .msg)
    }

    @Test func outOfOrderDeliveryDecryptsEveryMessage() throws {
        var pair = try SessionPair(seed: 2)
        try pair.aliceInitiates()
        var messages = try (0..<12).map { try pair.aliceSends("message \($0)") }
        messages.shuffle(using: &pair.generator)
        for message in messages {
            let text = try pair.bobReceives(message)
            #expect(text.hasPrefix("message "))
        }
        #expect(pair.bobRecord.current?.storedKeyCount == 0)
        // And across a DH ratchet step: Bob answers, Alice sends on a new chain, deliveries cross.
        let reply = try pair.bobSends("reply")
        #expect(try pair.aliceReceives(reply) == "reply")
        let late = try pair.aliceSends("new chain 0")
        let later = try pair.aliceSends("new chain 1")
        #expect(try pair.bobReceives(later) == "new chain 1")
        #expect(try pair.bobReceives(late) == "new chain 0")
    }

    @Test func replayedMessagesAreDuplicates() throws {
        var pair = try SessionPair(seed: 3)
        try pair.aliceInitiates()
        let first = try pair.aliceSends("first")
        let second = try pair.aliceSends("second")
        #expect(try pair.bobReceives(first) == "first")
        // The one-time prekey is gone, yet the replayed pkmsg is a duplicate, not an unknown prekey.
        #expect(pair.oneTimePreKeys[100] == nil)
        Kit.expectError(.duplicate) { () throws(SignalError) in try pair.bobReceives(first) }
        #expect(try pair.bobReceives(second) == "second")
        Kit.expectError(.duplicate) { () throws(SignalError) in try pair.bobReceives(second) }
        let reply = try pair.bobSends("reply")
        #expect(try pair.aliceReceives(reply) == "reply")
        Kit.expectError(.duplicate) { () throws(SignalError) in try pair.aliceReceives(reply) }
        let message = try pair.aliceSends("msg")
        #expect(message.type == .msg)
        #expect(try pair.bobReceives(message) == "msg")
        Kit.expectError(.duplicate) { () throws(SignalError) in try pair.bobReceives(message) }
    }

    @Test func aMessage2001AheadIsRejectedAnd2000IsNot() throws {
        var pair = try SessionPair(seed: 4)
        try pair.aliceInitiates()
        let messages = try (0...2001).map { try pair.aliceSends("message \($0)") }
        let before = pair.bobRecord
        Kit.expectError(.tooFarAhead) { () throws(SignalError) in try pair.bobReceives(messages[2001]) }
        #expect(pair.bobRecord == before)
        #expect(try pair.bobReceives(messages[2000]) == "message 2000")
        #expect(pair.bobRecord.current?.storedKeyCount == 2000)
        #expect(try pair.bobReceives(messages[5]) == "message 5")
        Kit.expectError(.duplicate) { () throws(SignalError) in try pair.bobReceives(messages[5]) }
        #expect(try SessionRecord(serialized: pair.bobRecord.serialized()) == pair.bobRecord)
    }

    @Test func tamperedMessagesAreRejectedAndChangeNothing() throws {
        var pair = try SessionPair(seed: 5)
        try pair.aliceInitiates()
        #expect(try pair.bobReceives(try pair.aliceSends("hello")) == "hello")
        #expect(try pair.aliceReceives(try pair.bobSends("reply")) == "reply")
        var message = try pair.aliceSends("tamper with me")
        #expect(message.type == .msg)
        let original = message.serialized
        let before = pair.bobRecord
        message.serialized[original.count - 1] ^= 0x01
        Kit.expectError(.invalidMAC) { () throws(SignalError) in try pair.bobReceives(message) }
        message.serialized = original
        message.serialized[original.count - 20] ^= 0x80
        Kit.expectError(.invalidMAC) { () throws(SignalError) in try pair.bobReceives(message) }
        #expect(pair.bobRecord == before)
        message.serialized = original
        #expect(try pair.bobReceives(message) == "tamper with me")
    }

    @Test func preKeyMessagesNamingUnknownPreKeysAreRejected() throws {
        var pair = try SessionPair(seed: 6)
        try pair.aliceInitiates(oneTimePreKeyID: 105)
        let message = try pair.aliceSends("hello")
        pair.oneTimePreKeys[105] = nil
        Kit.expectError(.unknownPreKey) { () throws(SignalError) in try pair.bobReceives(message) }
        #expect(pair.bobRecord.isEmpty)
        let parsed = try PreKeyWhisperMessage(parsing: message.serialized)
        var generator = SeededRandom(seed: 0)
        Kit.expectError(.unknownSignedPreKey) { () throws(SignalError) in
            try SessionCipher.decrypt(parsed, record: SessionRecord(), local: pair.bob, signedPreKey: { _ in nil }, oneTimePreKey: { _ in nil }, using: &generator)
        }
    }

    @Test func sessionWithoutOneTimePreKeyUsesThreeAgreements() throws {
        var pair = try SessionPair(seed: 7)
        try pair.aliceInitiates(oneTimePreKeyID: nil)
        let message = try pair.aliceSends("3-DH")
        #expect(try PreKeyWhisperMessage(parsing: message.serialized).oneTimePreKeyID == nil)
        let decryption = try SessionPair.decrypt(
            message, record: SessionRecord(), local: pair.bob, signedPreKeys: [7: pair.signedPreKey], oneTimePreKeys: [:], using: &pair.generator
        )
        #expect(decryption.plaintext == Array("3-DH".utf8))
        #expect(decryption.consumedOneTimePreKeyID == nil)
        #expect(decryption.establishedSession)
        #expect(decryption.remoteIdentityKey == pair.alice.keyPair.publicKey)
    }

    @Test func bundlesWithBadSignaturesOrKeysAreRejected() throws {
        var pair = try SessionPair(seed: 8)
        var bundle = pair.bundle(oneTimePreKeyID: 100)
        bundle.signedPreKeySignature[10] ^= 0x04
        Kit.expectError(.invalidSignature) { () throws(SignalError) in
            try SessionCipher.initiate(record: SessionRecord(), bundle: bundle, local: pair.alice, using: &pair.generator)
        }
        bundle = pair.bundle(oneTimePreKeyID: 100)
        bundle.identityKey = [0x05] + bundle.identityKey
        Kit.expectError(.invalidKey) { () throws(SignalError) in
            try SessionCipher.initiate(record: SessionRecord(), bundle: bundle, local: pair.alice, using: &pair.generator)
        }
    }

    @Test func missingSessionsAreReported() throws {
        var pair = try SessionPair(seed: 9)
        Kit.expectError(.noSession) { () throws(SignalError) in try SessionCipher.encrypt([1], record: SessionRecord()) }
        try pair.aliceInitiates()
        _ = try pair.bobReceives(try pair.aliceSends("hello"))
        let reply = try pair.bobSends("reply")
        var generator = SeededRandom(seed: 0)
        Kit.expectError(.noSession) { () throws(SignalError) in
            try SessionCipher.decrypt(try WhisperMessage(parsing: reply.serialized), record: SessionRecord(), using: &generator)
        }
    }

    /// A second pkmsg with a new base key (the peer reinstalled, or both sides initiated) becomes
    /// current; the old state is archived and still decrypts its late messages, which promotes it.
    @Test func newBaseKeyArchivesTheOldStateWhichStillDecrypts() throws {
        var pair = try SessionPair(seed: 10)
        try pair.aliceInitiates(oneTimePreKeyID: 100)
        #expect(try pair.bobReceives(try pair.aliceSends("old 0")) == "old 0")
        #expect(try pair.aliceReceives(try pair.bobSends("old reply")) == "old reply")
        let lateOld = try pair.aliceSends("old late")
        try pair.aliceInitiates(oneTimePreKeyID: 101)
        #expect(pair.aliceRecord.previousStates.count == 1)
        let fresh = try pair.aliceSends("new 0")
        #expect(fresh.type == .pkmsg)
        #expect(try pair.bobReceives(fresh) == "new 0")
        #expect(pair.bobRecord.previousStates.count == 1)
        let newBaseKey = try #require(pair.bobRecord.current?.baseKey)
        #expect(try pair.bobReceives(lateOld) == "old late")
        #expect(pair.bobRecord.current?.baseKey != newBaseKey)
        #expect(pair.bobRecord.previousStates.first?.baseKey == newBaseKey)
        Kit.expectError(.duplicate) { () throws(SignalError) in try pair.bobReceives(lateOld) }
    }

    @Test func archivedStatesAreBoundedToForty() throws {
        var pair = try SessionPair(seed: 11)
        for round in 0..<45 {
            try pair.aliceInitiates(oneTimePreKeyID: nil)
            #expect(try pair.bobReceives(try pair.aliceSends("round \(round)")) == "round \(round)")
        }
        #expect(pair.aliceRecord.previousStates.count == 40)
        #expect(pair.bobRecord.previousStates.count == 40)
        #expect(try SessionRecord(serialized: pair.bobRecord.serialized()) == pair.bobRecord)
    }

    @Test func receivingChainsAreBoundedToFive() throws {
        var pair = try SessionPair(seed: 12)
        try pair.aliceInitiates()
        for turn in 0..<8 {
            #expect(try pair.bobReceives(try pair.aliceSends("a\(turn)")) == "a\(turn)")
            #expect(try pair.aliceReceives(try pair.bobSends("b\(turn)")) == "b\(turn)")
        }
        #expect(pair.aliceRecord.current?.receivingChains.count == 5)
        #expect(pair.bobRecord.current?.receivingChains.count == 5)
    }

    /// Skipped keys are bounded per record: new skips evict the oldest stored keys.
    @Test func storedKeysAreBoundedPerRecord() throws {
        var pair = try SessionPair(seed: 13)
        try pair.aliceInitiates()
        let firstChain = try (0...1500).map { try pair.aliceSends("first \($0)") }
        #expect(try pair.bobReceives(firstChain[1500]) == "first 1500")
        #expect(try pair.aliceReceives(try pair.bobSends("turn")) == "turn")
        let secondChain = try (0...1000).map { try pair.aliceSends("second \($0)") }
        #expect(try pair.bobReceives(secondChain[1000]) == "second 1000")
        #expect(pair.bobRecord.current?.storedKeyCount == 2000)
        // The oldest 500 of the first chain were dropped; the rest still decrypt.
        Kit.expectError(.duplicate) { () throws(SignalError) in try pair.bobReceives(firstChain[0]) }
        #expect(try pair.bobReceives(firstChain[500]) == "first 500")
        #expect(try pair.bobReceives(secondChain[0]) == "second 0")
    }

    /// Both directions over many messages, sent and delivered in a seeded random interleaving with
    /// reordering, the records going through their stored form now and then.
    @Test(arguments: [21, 22, 23] as [UInt64])
    func sessionsRoundTripWithRandomInterleaving(seed: UInt64) throws {
        var pair = try SessionPair(seed: seed)
        try pair.aliceInitiates()
        var toBob: [(SessionCipher.Encryption, String)] = []
        var toAlice: [(SessionCipher.Encryption, String)] = []
        var delivered = 0
        var aliceHeardFromBob = false
        for step in 0..<1500 {
            switch pair.generator.below(10) {
            case 0..<3:
                let text = "a\(step)"
                let message = try pair.aliceSends(text)
                #expect(message.type == (aliceHeardFromBob ? .msg : .pkmsg))
                toBob.append((message, text))
            case 3..<5 where pair.bobRecord.current != nil:
                let text = "b\(step)"
                toAlice.append((try pair.bobSends(text), text))
            case 5..<8 where !toBob.isEmpty:
                // Any of the three oldest in flight: reordering, without holding a message back
                // past the five receiving chains a state keeps.
                let (message, text) = toBob.remove(at: pair.generator.below(min(3, toBob.count)))
                #expect(try pair.bobReceives(message) == text)
                delivered += 1
            case 8 where !toAlice.isEmpty:
                let (message, text) = toAlice.remove(at: pair.generator.below(min(3, toAlice.count)))
                #expect(try pair.aliceReceives(message) == text)
                aliceHeardFromBob = true
                delivered += 1
            case 9:
                pair.aliceRecord = try SessionRecord(serialized: pair.aliceRecord.serialized())
                pair.bobRecord = try SessionRecord(serialized: pair.bobRecord.serialized())
            default:
                continue
            }
        }
        for (message, text) in toBob {
            #expect(try pair.bobReceives(message) == text)
        }
        for (message, text) in toAlice {
            #expect(try pair.aliceReceives(message) == text)
        }
        #expect(delivered > 500)
        #expect(try SessionRecord(serialized: pair.aliceRecord.serialized()) == pair.aliceRecord)
    }

    @Test func recordsRefuseUnknownFormatsAndTruncation() throws {
        var pair = try SessionPair(seed: 14)
        try pair.aliceInitiates()
        _ = try pair.bobReceives(try pair.aliceSends("hello"))
        let bytes = pair.bobRecord.serialized()
        #expect(try SessionRecord(serialized: bytes) == pair.bobRecord)
        #expect(try SessionRecord(serialized: SessionRecord().serialized()).isEmpty)
        Kit.expectError(.unsupportedVersion) { () throws(SignalError) in try SessionRecord(serialized: [2] + bytes.dropFirst()) }
        Kit.expectError(.corruptRecord) { () throws(SignalError) in try SessionRecord(serialized: Array(bytes.dropLast())) }
        Kit.expectError(.corruptRecord) { () throws(SignalError) in try SessionRecord(serialized: bytes + [0]) }
        Kit.expectError(.corruptRecord) { () throws(SignalError) in try SessionRecord(serialized: []) }
    }

    @Test func descriptionsCarryNoKeyMaterial() throws {
        var pair = try SessionPair(seed: 15)
        try pair.aliceInitiates()
        let state = try #require(pair.aliceRecord.current)
        let texts = [String(describing: pair.aliceRecord), String(reflecting: pair.aliceRecord), String(describing: state),
                     String(describing: SignalError(.invalidMAC))]
        for text in texts {
            #expect(!text.contains(Kit.hex(state.rootKey)))
            #expect(!text.contains(Kit.hex(Array(state.rootKey.prefix(4)))))
        }
    }
}
