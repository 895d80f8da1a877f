import Testing
import WAWire

@testable import Signal

/// Random and mutated stored records through their decoders: never a crash, and whatever decodes
/// is canonical (it serializes back to exactly the bytes it came from).
@Suite struct RecordFuzzTests {
    /// Session records with archived states, several chains, stored keys and a pending prekey.
    static func sessionRecords(seed: UInt64) throws -> [[UInt8]] {
        var pair = try SessionPair(seed: seed)
        try pair.aliceInitiates(oneTimePreKeyID: 100)
        let early = try (0..<6).map { try pair.aliceSends("early \($0)") }
        _ = try pair.bobReceives(early[5])
        _ = try pair.aliceReceives(try pair.bobSends("reply"))
        _ = try pair.bobReceives(try pair.aliceSends("turn"))
        try pair.aliceInitiates(oneTimePreKeyID: nil)
        _ = try pair.bobReceives(try pair.aliceSends("second session"))
        return [pair.aliceRecord.serialized(), pair.bobRecord.serialized(), SessionRecord().serialized()]
    }

    static func senderKeyRecords(seed: UInt64) throws -> [[UInt8]] {
        var group = try GroupBehaviourTests.Group(seed: seed)
        let messages = try (0..<5).map { try group.send("group \($0)") }
        _ = try group.receive(messages[4])
        let other = try GroupBehaviourTests.Group(seed: seed + 1)
        let receiver = GroupCipher.process(other.distribution, record: group.receiver)
        return [group.sender.serialized(), receiver.serialized(), SenderKeyRecord().serialized()]
    }

    @Test(arguments: 0..<4 as Range<UInt64>)
    func sessionRecordsNeverCrashAndDecodeCanonically(part: UInt64) async throws {
        let valid = try Self.sessionRecords(seed: 0x5EC_0000 + part)
        var generator = SeededRandom(seed: 0x5EC_1000 + part)
        var decoded = 0
        for step in 0..<25_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let input = generator.below(4) == 0
                ? FuzzMutator.random(maximum: 600, versionByte: 0x01, using: &generator)
                : FuzzMutator.mutate(valid[generator.below(valid.count)], using: &generator)
            guard let record = try? SessionRecord(serialized: input) else {
                continue
            }
            decoded += 1
            #expect(record.serialized() == input)
            #expect(record.previousStates.count <= SignalLimits.maximumPreviousStates)
        }
        #expect(decoded > 1_000)
    }

    @Test(arguments: 0..<4 as Range<UInt64>)
    func senderKeyRecordsNeverCrashAndDecodeCanonically(part: UInt64) async throws {
        let valid = try Self.senderKeyRecords(seed: 0x5EC_2000 + part)
        var generator = SeededRandom(seed: 0x5EC_3000 + part)
        var decoded = 0
        for step in 0..<25_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let input = generator.below(4) == 0
                ? FuzzMutator.random(maximum: 300, versionByte: 0x01, using: &generator)
                : FuzzMutator.mutate(valid[generator.below(valid.count)], using: &generator)
            guard let record = try? SenderKeyRecord(serialized: input) else {
                continue
            }
            decoded += 1
            #expect(record.serialized() == input)
            #expect(record.states.count <= SignalLimits.maximumSenderKeyStates)
        }
        #expect(decoded > 1_000)
    }
}
