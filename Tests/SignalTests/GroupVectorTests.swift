import Testing
import WAWire

@testable import Signal

/// signal-group.json (python-axolotl sender keys): the sender replayed from its draws to the
/// identical distribution message and `skmsg` bytes, the receiver through the recorded delivery
/// order with every chain step and state checked.
@Suite struct GroupVectorTests {
    typealias Kit = SignalTestKit

    struct Fixture {
        let root: VectorNode
        let draws: [String: VectorNode]
        let messages: [String: VectorNode]

        init() throws {
            root = try Kit.vector("signal-group")
            var draws: [String: VectorNode] = [:]
            for draw in root["draws"].array {
                draws[try draw["label"].string()] = draw
            }
            var messages: [String: VectorNode] = [:]
            for message in root["messages"].array {
                messages[try message["id"].string()] = message
            }
            self.draws = draws
            self.messages = messages
        }

        /// The generator replaying a step's draws: key ids as one word, the rest as bytes.
        func generator(for step: VectorNode) throws -> ReplayGenerator {
            var words: [UInt64] = []
            for label in try step["draws"].array.map({ try $0.string() }) {
                let draw = try #require(draws[label])
                let chunk: [UInt8]
                switch try draw["kind"].string() {
                case "sender_key_id":
                    words.append(UInt64(try draw["value"].uint32()))
                    continue
                case "sender_chain_key": chunk = try draw["value"].bytes()
                case "key_pair": chunk = try draw["private"].bytes()
                default: chunk = try draw["random"].bytes()
                }
                words += ReplayGenerator.words(of: chunk)
            }
            return ReplayGenerator(words: words)
        }
    }

    @Test func chainStepsMatchEveryMessage() throws {
        let fixture = try Fixture()
        for message in fixture.root["messages"].array {
            let expected = message["expected_internal"]
            let chain = ChainKey(key: try expected["chain_key"].bytes(), index: try message["iteration"].uint32())
            #expect(chain.messageKeySeed == (try expected["message_seed"].bytes()))
            #expect(chain.next.key == (try expected["next_chain_key"].bytes()))
            #expect(SignalKDF.derive(chain.messageKeySeed, info: "WhisperGroup", count: 48) == (try expected["hkdf_okm"].bytes()))
            let keys = SenderMessageKeys(seed: chain.messageKeySeed)
            #expect(keys.iv == (try expected["iv"].bytes()))
            #expect(keys.cipherKey == (try expected["cipher_key"].bytes()))
        }
    }

    @Test func messagesParseToTheRecordedFields() throws {
        let fixture = try Fixture()
        let distribution = fixture.root["sender_key_distribution_message"]
        let parsed = try SenderKeyDistributionMessage(parsing: distribution["serialized"].bytes())
        #expect(parsed.keyID == (try distribution["fields"]["id"].uint32()))
        #expect(parsed.iteration == (try distribution["fields"]["iteration"].uint32()))
        #expect(parsed.chainKey == (try distribution["fields"]["chain_key"].bytes()))
        #expect(parsed.signingKey == (try distribution["fields"]["signing_key"].publicKey()))
        for message in fixture.root["messages"].array {
            let fields = message["parsed"]["fields"]
            let skmsg = try SenderKeyMessage(parsing: message["serialized"].bytes())
            #expect(skmsg.keyID == (try fields["id"].uint32()))
            #expect(skmsg.iteration == (try fields["iteration"].uint32()))
            #expect(skmsg.ciphertext == (try fields["ciphertext"].bytes()))
            #expect(skmsg.hasValidSignature(signingKey: parsed.signingKey))
        }
    }

    /// The script: the sender creates its key and encrypts G1–G6 (G4 and G5 never delivered); the
    /// receiver processes the distribution message and decrypts G1, G3, G2 (late), G6 (after a gap).
    @Test func scriptReplaysByteForByte() throws {
        let fixture = try Fixture()
        var sender = SenderKeyRecord()
        var receiver = SenderKeyRecord()
        var distribution: SenderKeyDistributionMessage?
        for step in fixture.root["script"].array {
            var generator = try fixture.generator(for: step)
            switch (try step["actor"].string(), try step["action"].string()) {
            case ("sender", "create_sender_key"):
                let result = try GroupCipher.distributionMessage(record: sender, using: &generator)
                let expected = fixture.root["sender_key_distribution_message"]
                #expect(Kit.hex(result.message.serialized) == (try expected["serialized"].string()))
                let key = fixture.root["sender_key"]
                let state = try #require(result.record.states.first)
                #expect(state.keyID == (try key["key_id"].uint32()))
                #expect(state.chainKey == ChainKey(key: try key["chain_key"].bytes(), index: try key["iteration"].uint32()))
                #expect(state.signingPublicKey == (try key["signing_key"]["public"].publicKey()))
                #expect(state.signingPrivateKey == (try key["signing_key"]["private"].bytes()))
                sender = result.record
                distribution = result.message
            case ("receiver", "process_sender_key_distribution_message"):
                let bytes = try #require(distribution).serialized
                receiver = GroupCipher.process(try SenderKeyDistributionMessage(parsing: bytes), record: receiver)
            case ("sender", "encrypt"):
                let id = try step["message"].string()
                let message = try #require(fixture.messages[id])
                let result = try GroupCipher.encrypt(try message["plaintext"].bytes(), record: sender, using: &generator)
                #expect(Kit.hex(result.serialized) == (try message["serialized"].string()), "\(id)")
                sender = result.record
            default:
                let message = try #require(fixture.messages[try step["message"].string()])
                let result = try GroupCipher.decrypt(try SenderKeyMessage(parsing: message["serialized"].bytes()), record: receiver)
                #expect(result.plaintext == (try message["plaintext"].bytes()))
                receiver = result.record
                try expectState(try #require(receiver.states.first), message["expected_internal"]["receiver_state_after_decrypt"])
            }
            #expect(generator.isExhausted)
        }
        #expect(receiver.states.count == 1)
    }

    private func expectState(_ state: SenderKeyState, _ node: VectorNode) throws {
        #expect(state.keyID == (try node["key_id"].uint32()))
        #expect(state.iteration == (try node["iteration"].uint32()))
        #expect(state.chainKey.key == (try node["chain_key"].bytes()))
        #expect(state.signingPublicKey == (try node["signing_public"].publicKey()))
        #expect(state.signingPrivateKey == nil)
        let seeds = try node["skipped_message_seeds"].array.map {
            StoredMessageKey(index: try $0["iteration"].uint32(), seed: try $0["seed"].bytes())
        }
        #expect(state.storedKeys == seeds)
    }
}
