import Signal
import Testing
import WAWire

/// WhatsApp's v2 plaintext padding: n bytes of n, 1 ≤ n ≤ 16.
@Suite struct MessagePaddingTests {
    typealias Kit = SignalTestKit

    @Test func padDrawsEveryLengthFromOneToSixteenAndUnpadInvertsIt() throws {
        var generator = SeededRandom(seed: 1)
        var seen = Set<Int>()
        for round in 0..<400 {
            let plaintext = generator.bytes(round % 40)
            let padded = MessagePadding.pad(plaintext, using: &generator)
            let count = padded.count - plaintext.count
            #expect((1...16).contains(count))
            #expect(padded.suffix(count).allSatisfy { Int($0) == count })
            #expect(try MessagePadding.unpad(padded) == plaintext)
            seen.insert(count)
        }
        #expect(seen == Set(1...16))
    }

    @Test func vectorPlaintextsUnpadToTheirMessages() throws {
        for name in ["signal-session", "signal-group"] {
            let root = try Kit.vector(name)
            let messages = name == "signal-group" ? root["messages"].array : root["cases"].array.flatMap { $0["messages"].array }
            for message in messages {
                #expect(try MessagePadding.unpad(message["plaintext"].bytes()) == (try message["wa_message_protobuf"].bytes()))
            }
        }
    }

    @Test(arguments: [[], [0], [17], [3, 3], [1, 2, 2, 3, 3], [9, 4, 4, 4, 5, 4], [0x10]] as [[UInt8]])
    func unpadRefusesEmptyOrInconsistentPadding(padded: [UInt8]) {
        Kit.expectError(.invalidPadding) { () throws(SignalError) in try MessagePadding.unpad(padded) }
    }

    @Test func unpadAcceptsAPlaintextThatIsAllPadding() throws {
        #expect(try MessagePadding.unpad([1]) == [])
        #expect(try MessagePadding.unpad([UInt8](repeating: 16, count: 16)) == [])
    }
}
