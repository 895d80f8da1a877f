import Testing
import WAWire

@testable import Signal

/// Sender keys beyond the vector: ordering, replays, bounds, tampering, distribution replays.
@Suite struct GroupBehaviourTests {
    typealias Kit = SignalTestKit

    /// A sender with a fresh key and a receiver that processed its distribution message.
    struct Group {
        var generator: SeededRandom
        var sender = SenderKeyRecord()
        var receiver = SenderKeyRecord()
        let distribution: SenderKeyDistributionMessage

        init(seed: UInt64) throws {
            generator = SeededRandom(seed: seed)
            let result = try GroupCipher.distributionMessage(record: sender, using: &generator)
            sender = result.record
            distribution = try SenderKeyDistributionMessage(parsing: result.message.serialized)
            receiver = GroupCipher.process(distribution, record: receiver)
        }

        mutating func send(_ text: String) throws -> [UInt8] {
            let result = try GroupCipher.encrypt(Array(text.utf8), record: sender, using: &generator)
            sender = result.record
            return result.serialized
        }

        /// Moves the sender's chain `count` iterations on without sending: signing is the slow part
        /// of a debug build, and the skipped messages are never delivered anyway.
        mutating func skip(_ count: Int) {
            for _ in 0..<count {
                sender.states[0].chainKey = sender.states[0].chainKey.next
            }
        }

        mutating func receive(_ bytes: [UInt8]) throws(SignalError) -> String {
            let result = try GroupCipher.decrypt(try SenderKeyMessage(parsing: bytes), record: receiver)
            receiver = result.record
            return String(decoding: result.plaintext, as: UTF8.self)
        }
    }

    @Test func outOfOrderDeliveryUsesStoredKeys() throws {
        var group = try Group(seed: 1)
        var messages = try (0..<20).map { ($0, try group.send("group \($0)")) }
        messages.shuffle(using: &group.generator)
        for (index, bytes) in messages {
            #expect(try group.receive(bytes) == "group \(index)")
        }
        #expect(group.receiver.states[0].storedKeys.isEmpty)
        #expect(group.receiver.states[0].iteration == 20)
    }

    @Test func replayedMessagesAreDuplicates() throws {
        var group = try Group(seed: 2)
        let first = try group.send("first")
        let third = [try group.send("second"), try group.send("third")][1]
        #expect(try group.receive(third) == "third")
        Kit.expectError(.duplicate) { () throws(SignalError) in try group.receive(third) }
        #expect(try group.receive(first) == "first")
        Kit.expectError(.duplicate) { () throws(SignalError) in try group.receive(first) }
    }

    /// A replayed distribution message keeps the state we have, so it cannot make used keys usable again.
    @Test func replayedDistributionMessageDoesNotRewindTheChain() throws {
        var group = try Group(seed: 3)
        let message = try group.send("once")
        #expect(try group.receive(message) == "once")
        group.receiver = GroupCipher.process(group.distribution, record: group.receiver)
        #expect(group.receiver.states.count == 1)
        Kit.expectError(.duplicate) { () throws(SignalError) in try group.receive(message) }
    }

    @Test func aMessage2001AheadIsRejectedAnd2000IsNot() throws {
        var group = try Group(seed: 4)
        let early = try (0..<8).map { try group.send("message \($0)") }
        group.skip(2000 - 8)
        let at2000 = try group.send("message 2000")
        let at2001 = try group.send("message 2001")
        let before = group.receiver
        Kit.expectError(.tooFarAhead) { () throws(SignalError) in try group.receive(at2001) }
        #expect(group.receiver == before)
        #expect(try group.receive(at2000) == "message 2000")
        #expect(group.receiver.states[0].storedKeys.count == 2000)
        #expect(try group.receive(early[7]) == "message 7")
        #expect(try SenderKeyRecord(serialized: group.receiver.serialized()) == group.receiver)
    }

    @Test func tamperedMessagesAreRejected() throws {
        var group = try Group(seed: 5)
        let message = try group.send("signed")
        var tampered = message
        tampered[tampered.count - 70] ^= 0x01
        Kit.expectError(.invalidSignature) { () throws(SignalError) in try group.receive(tampered) }
        tampered = message
        tampered[tampered.count - 1] ^= 0x20
        Kit.expectError(.invalidSignature) { () throws(SignalError) in try group.receive(tampered) }
        #expect(try group.receive(message) == "signed")
    }

    @Test func unknownKeysAreReported() throws {
        var group = try Group(seed: 6)
        let message = try group.send("hello")
        Kit.expectError(.noSenderKey) { () throws(SignalError) in
            try GroupCipher.decrypt(try SenderKeyMessage(parsing: message), record: SenderKeyRecord())
        }
        Kit.expectError(.noSenderKey) { () throws(SignalError) in
            try GroupCipher.encrypt([1], record: group.receiver, using: &group.generator)
        }
        Kit.expectError(.noSenderKey) { () throws(SignalError) in
            try GroupCipher.encrypt([1], record: SenderKeyRecord(), using: &group.generator)
        }
    }

    @Test func recordsKeepFiveStatesAndTheNewestKey() throws {
        var receiver = SenderKeyRecord()
        var generator = SeededRandom(seed: 7)
        var keyIDs: [UInt32] = []
        for _ in 0..<7 {
            let distribution = try GroupCipher.distributionMessage(record: SenderKeyRecord(), using: &generator).message
            receiver = GroupCipher.process(distribution, record: receiver)
            keyIDs.append(distribution.keyID)
        }
        #expect(receiver.states.map(\.keyID) == Array(keyIDs.reversed().prefix(5)))
    }

    @Test func storedKeysAreBoundedPerRecord() throws {
        var group = try Group(seed: 8)
        let first = try group.send("message 0")
        group.skip(499)
        let at500 = try group.send("message 500")
        group.skip(999)
        #expect(try group.receive(try group.send("message 1500")) == "message 1500")
        var other = try Group(seed: 9)
        group.receiver = GroupCipher.process(other.distribution, record: group.receiver)
        other.skip(1000)
        let result = try GroupCipher.decrypt(try SenderKeyMessage(parsing: try other.send("other 1000")), record: group.receiver)
        group.receiver = result.record
        #expect(group.receiver.states.reduce(0) { $0 + $1.storedKeys.count } == 2000)
        // The oldest 500 of the first sender's stored keys were dropped; the rest still decrypt.
        Kit.expectError(.duplicate) { () throws(SignalError) in try group.receive(first) }
        #expect(try group.receive(at500) == "message 500")
    }

    @Test func recordsRoundTripAndRefuseUnknownFormats() throws {
        var group = try Group(seed: 10)
        _ = try group.receive(try group.send("x"))
        for record in [group.sender, group.receiver, SenderKeyRecord()] {
            #expect(try SenderKeyRecord(serialized: record.serialized()) == record)
        }
        let bytes = group.sender.serialized()
        Kit.expectError(.unsupportedVersion) { () throws(SignalError) in try SenderKeyRecord(serialized: [0] + bytes.dropFirst()) }
        Kit.expectError(.corruptRecord) { () throws(SignalError) in try SenderKeyRecord(serialized: Array(bytes.dropLast())) }
        Kit.expectError(.corruptRecord) { () throws(SignalError) in try SenderKeyRecord(serialized: bytes + [1]) }
        #expect(!String(describing: group.distribution).contains(Kit.hex(group.distribution.chainKey)))
    }
}
