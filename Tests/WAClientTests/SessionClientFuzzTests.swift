import Foundation
import Testing
@testable import WAClient
import WAWire

@Suite("Client session machine: fuzzed input")
struct SessionClientFuzzTests {
    /// `input` with a few random edits: flipped bits, replaced, inserted or deleted bytes, or a cut.
    static func mutate(_ input: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        var output = input
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !output.isEmpty:
                let index = Int.random(in: output.indices, using: &random)
                output[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1 where !output.isEmpty:
                output[Int.random(in: output.indices, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 2:
                output.insert(UInt8.random(in: 0...255, using: &random), at: Int.random(in: 0...output.count, using: &random))
            case 3 where !output.isEmpty:
                output.remove(at: Int.random(in: output.indices, using: &random))
            case 4 where output.count > 2:
                // Splice: repeat a slice, which duplicates attributes and children.
                let from = Int.random(in: 0..<output.count, using: &random)
                let to = Int.random(in: from...output.count, using: &random)
                output.insert(contentsOf: output[from..<to], at: Int.random(in: 0...output.count, using: &random))
            default:
                output = Array(output.prefix(Int.random(in: 0...output.count, using: &random)))
            }
        }
        return output
    }

    /// Mutated stanzas, properly encrypted, so they reach the stanza handlers; plus some mutated framing
    /// and ciphertext. A closed machine is replaced by a copy of the freshly connected one.
    @Test(arguments: [ConnectionIntent.pair(.qr), .login])
    func mutatedFramesAfterTheHandshakeNeverCrashTheMachine(intent: ConnectionIntent) async throws {
        var random = SeededRandom(seed: intent == .login ? 11 : 12)
        let credentials = intent == .login ? ScriptedSession.pairedCredentials() : DeviceCredentials.generate(using: &random)
        let connected = try ScriptedSession(intent: intent, credentials: credentials)
        let corpus = try ServerStanzas.corpus.map { try NodeEncoder.encode($0) }
        var session = connected
        var frames = 0
        var restarts = 0
        var sawEvents = 0
        while frames < 5_000 {
            if session.isClosed {
                session = connected
                restarts += 1
            }
            let seedStanza = corpus[Int.random(in: corpus.indices, using: &random)]
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                // Mutated ciphertext or framing: only the transport layer sees it.
                var frame = try session.server.frame(plaintext: seedStanza)
                frame = Self.mutate(frame, using: &random)
                try session.receive(bytes: frame)
            case 1:
                try session.receive(bytes: try session.server.frame(plaintext: seedStanza))
            default:
                try session.receive(bytes: try session.server.frame(plaintext: Self.mutate(seedStanza, using: &random)))
            }
            frames += 1
            if !session.confirmations.isEmpty {
                session.confirmations = []
                let decision: ClientSessionMachine.PairingDecision = Bool.random(using: &random) ? .accepted : .rejected(detail: "fuzz")
                try session.input(.pairingConfirmed(decision, now: session.now))
            }
            if let timer = session.timers.keys.randomElement(using: &random), Int.random(in: 0..<8, using: &random) == 0 {
                try session.fire(timer)
            }
            sawEvents += session.events.count
            session.events = []
        }
        #expect(frames == 5_000)
        #expect(restarts > 0)
        #expect(sawEvents > 0)
    }

    @Test func randomBytesAsServerHelloNeverCrashTheMachine() async throws {
        var random = SeededRandom(seed: 13)
        let credentials = DeviceCredentials.generate(using: &random)
        let configuration = TestServerKeys().clientConfiguration()
        for step in 0..<2_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            var machine = ClientSessionMachine(credentials: credentials, intent: .pair(.qr), configuration: configuration)
            _ = machine.handle(.connected(now: Conversation.start))
            let length = Int.random(in: 0...120, using: &random)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = machine.handle(.received([0, UInt8(length >> 8), UInt8(length & 0xFF)] + bytes, now: Conversation.start))
        }
    }
}
