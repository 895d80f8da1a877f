import Testing
import WAWire

@testable import Signal

/// signal-session.json (python-axolotl): every KDF step, every message key, every state, and both
/// parties replayed from the recorded draws to the identical bytes.
@Suite struct SessionVectorTests {
    typealias Kit = SignalTestKit

    /// The parties, the draws and the cases of the vector file.
    struct Fixture {
        let root: VectorNode
        let alice: LocalIdentity
        let bob: LocalIdentity
        let bobSignedPreKey: Curve25519KeyPair
        let bobSignedPreKeyID: UInt32
        let bobOneTimePreKey: Curve25519KeyPair
        let bobOneTimePreKeyID: UInt32
        /// Every drawn key pair by label, and its private key by public key.
        let keyPairs: [String: Curve25519KeyPair]
        let privateKeys: [[UInt8]: [UInt8]]

        init() throws {
            root = try Kit.vector("signal-session")
            var keyPairs: [String: Curve25519KeyPair] = [:]
            var privateKeys: [[UInt8]: [UInt8]] = [:]
            for draw in root["draws"].array where try draw["kind"].string() == "key_pair" {
                let label = try draw["label"].string()
                let pair = try Curve25519KeyPair(privateKey: draw["private"].bytes())
                #expect(pair.publicKey == (try draw["public"].publicKey()), "draw \(label)")
                keyPairs[label] = pair
                privateKeys[pair.publicKey] = pair.privateKey
            }
            self.keyPairs = keyPairs
            self.privateKeys = privateKeys
            let parties = root["parties"]
            alice = LocalIdentity(keyPair: try #require(keyPairs["alice.identity"]), registrationID: try parties["alice"]["registration_id"].uint32())
            bob = LocalIdentity(keyPair: try #require(keyPairs["bob.identity"]), registrationID: try parties["bob"]["registration_id"].uint32())
            bobSignedPreKey = try #require(keyPairs["bob.signed_prekey"])
            bobSignedPreKeyID = try parties["bob"]["signed_prekey"]["id"].uint32()
            bobOneTimePreKey = try #require(keyPairs["bob.one_time_prekey"])
            bobOneTimePreKeyID = try parties["bob"]["one_time_prekey"]["id"].uint32()
        }

        func caseNode(_ index: Int) -> VectorNode {
            root["cases"][index]
        }

        /// The generator that replays the key pairs a script step draws, in order.
        func generator(for step: VectorNode) throws -> ReplayGenerator {
            let labels = try step["generates_keys"].array.map { try $0.string() }
            return ReplayGenerator(chunks: try labels.map { try #require(keyPairs[$0], "no draw \($0)").privateKey })
        }

        func bundle(_ node: VectorNode) throws -> PreKeyBundle {
            PreKeyBundle(
                registrationID: try node["registration_id"].uint32(),
                identityKey: try node["identity_key"].publicKey(),
                signedPreKeyID: try node["signed_pre_key_id"].uint32(),
                signedPreKey: try node["signed_pre_key_public"].publicKey(),
                signedPreKeySignature: try node["signed_pre_key_signature"].bytes(),
                oneTimePreKey: node["pre_key_id"].isNull
                    ? nil
                    : .init(id: try node["pre_key_id"].uint32(), publicKey: try node["pre_key_public"].publicKey())
            )
        }
    }

    @Test func signedPreKeySignaturesVerifyWithTheSignBitTheyCarry() throws {
        let fixture = try Fixture()
        for party in ["alice", "bob"] {
            let node = fixture.root["parties"][party]
            let identity = try node["identity"]["public"].publicKey()
            let signature = try node["signed_prekey"]["signature"].bytes()
            #expect(CurveSignature.isValid(signature, for: try node["signed_prekey"]["signed_message"].bytes(), publicKey: identity))
        }
    }

    @Test(arguments: 0..<2)
    func kdfTracesMatchEveryStep(caseIndex: Int) throws {
        let fixture = try Fixture()
        let node = fixture.caseNode(caseIndex)
        var traces = node["setup_internal"]["alice_kdf_trace"].array
        for message in node["messages"].array {
            traces += message["expected_internal"]["receiver_kdf_trace"].array
        }
        #expect(traces.count > 4)
        for trace in traces {
            let hkdf = trace["hkdf"]
            let derived = SignalKDF.derive(
                try hkdf["ikm"].bytes(),
                salt: try hkdf["salt"].bytes(),
                info: try hkdf["info"].string(),
                count: try hkdf["length"].int()
            )
            switch try trace["kdf"].string() {
            case "x3dh":
                #expect(Array(derived[0..<32]) == (try trace["root_key"].bytes()))
                #expect(Array(derived[32..<64]) == (try trace["chain_key"].bytes()))
                let parts = trace["ikm_parts"]
                var agreements = [
                    try parts["dh1_IKa_SPKb"].bytes(), try parts["dh2_EKa_IKb"].bytes(), try parts["dh3_EKa_SPKb"].bytes(),
                ]
                if !parts["dh4_EKa_OPKb"].isNull {
                    agreements.append(try parts["dh4_EKa_OPKb"].bytes())
                }
                #expect(SignalKDF.x3dh(agreements).rootKey == (try trace["root_key"].bytes()))
            default:
                #expect(Array(derived[0..<32]) == (try trace["root_key_out"].bytes()))
                #expect(Array(derived[32..<64]) == (try trace["chain_key_out"].bytes()))
                let ours = try trace["our_ratchet_public"].publicKey()
                let pair = try Curve25519KeyPair(privateKey: try #require(fixture.privateKeys[ours]))
                let step = try SignalKDF.rootStep(rootKey: try hkdf["salt"].bytes(), ours: pair, theirs: try trace["their_ratchet_public"].publicKey())
                #expect(try pair.sharedSecret(with: trace["their_ratchet_public"].publicKey()) == (try hkdf["ikm"].bytes()))
                #expect(step.rootKey == (try trace["root_key_out"].bytes()))
                #expect(step.chainKey == (try trace["chain_key_out"].bytes()))
            }
        }
    }

    @Test(arguments: 0..<2)
    func x3dhAgreementsMatchTheIKMParts(caseIndex: Int) throws {
        let fixture = try Fixture()
        let node = fixture.caseNode(caseIndex)
        let prefix = caseIndex == 0 ? "case1" : "case2"
        let baseKey = try #require(fixture.keyPairs["\(prefix).alice.base_key"])
        let parts = node["setup_internal"]["alice_kdf_trace"][0]["ikm_parts"]
        #expect(try fixture.alice.keyPair.sharedSecret(with: fixture.bobSignedPreKey.publicKey) == (try parts["dh1_IKa_SPKb"].bytes()))
        #expect(try baseKey.sharedSecret(with: fixture.bob.keyPair.publicKey) == (try parts["dh2_EKa_IKb"].bytes()))
        #expect(try baseKey.sharedSecret(with: fixture.bobSignedPreKey.publicKey) == (try parts["dh3_EKa_SPKb"].bytes()))
        if parts["dh4_EKa_OPKb"].isNull {
            #expect(node["bundle"]["pre_key_id"].isNull)
        } else {
            #expect(try baseKey.sharedSecret(with: fixture.bobOneTimePreKey.publicKey) == (try parts["dh4_EKa_OPKb"].bytes()))
        }
    }

    @Test(arguments: 0..<2)
    func messageKeysMatchEveryMessage(caseIndex: Int) throws {
        let fixture = try Fixture()
        for message in fixture.caseNode(caseIndex)["messages"].array {
            let expected = message["expected_internal"]["message_keys"]
            let chain = ChainKey(key: try expected["chain_key"].bytes(), index: try expected["chain_index"].uint32())
            #expect(chain.messageKeySeed == (try expected["message_key_seed"].bytes()))
            #expect(chain.next.key == (try expected["next_chain_key"].bytes()))
            let keys = MessageKeys(seed: chain.messageKeySeed)
            #expect(keys.cipherKey == (try expected["cipher_key"].bytes()))
            #expect(keys.macKey == (try expected["mac_key"].bytes()))
            #expect(keys.iv == (try expected["iv"].bytes()))
            // The MAC is HMAC(macKey, the recorded input), truncated to 8 bytes.
            let whisper = message["parsed"]["whisper_message"]
            let mac = HMACSHA256.authenticationCode(for: try message["expected_internal"]["mac_input"].bytes(), key: keys.macKey)
            #expect(Array(mac.prefix(8)) == (try whisper["mac"].bytes()))
        }
    }

    @Test(arguments: 0..<2)
    func messagesParseToTheRecordedFields(caseIndex: Int) throws {
        let fixture = try Fixture()
        for message in fixture.caseNode(caseIndex)["messages"].array {
            let parsed = message["parsed"]
            let whisperNode = parsed["whisper_message"]
            let whisper = try WhisperMessage(parsing: whisperNode["serialized"].bytes())
            #expect(whisper.ratchetKey == (try whisperNode["fields"]["ratchet_key"].publicKey()))
            #expect(whisper.counter == (try whisperNode["fields"]["counter"].uint32()))
            #expect(whisper.previousCounter == (try whisperNode["fields"]["previous_counter"].uint32()))
            #expect(whisper.ciphertext == (try whisperNode["fields"]["ciphertext"].bytes()))
            guard try message["type"].string() == "pkmsg" else {
                #expect(whisper.serialized == (try message["serialized"].bytes()))
                continue
            }
            let fields = parsed["pkmsg"]["fields"]
            let preKey = try PreKeyWhisperMessage(parsing: message["serialized"].bytes())
            #expect(preKey.oneTimePreKeyID == (fields["pre_key_id"].isNull ? nil : try fields["pre_key_id"].uint32()))
            #expect(preKey.baseKey == (try fields["base_key"].publicKey()))
            #expect(preKey.identityKey == (try fields["identity_key"].publicKey()))
            #expect(preKey.registrationID == (try fields["registration_id"].uint32()))
            #expect(preKey.signedPreKeyID == (try fields["signed_pre_key_id"].uint32()))
            #expect(preKey.message == whisper)
        }
    }

    /// Runs the script: Alice and Bob from empty records, every draw replayed, every ciphertext
    /// byte-identical, every plaintext recovered, every recorded state matched.
    @Test(arguments: 0..<2)
    func scriptReplaysByteForByte(caseIndex: Int) throws {
        let fixture = try Fixture()
        let node = fixture.caseNode(caseIndex)
        var messages: [String: VectorNode] = [:]
        for message in node["messages"].array {
            messages[try message["id"].string()] = message
        }
        var records = ["alice": SessionRecord(), "bob": SessionRecord()]
        let locals = ["alice": fixture.alice, "bob": fixture.bob]
        var consumedPreKeys: [UInt32] = []
        for step in node["script"].array {
            let actor = try step["actor"].string()
            var generator = try fixture.generator(for: step)
            var record = try #require(records[actor])
            switch try step["action"].string() {
            case "process_prekey_bundle":
                record = try SessionCipher.initiate(record: record, bundle: fixture.bundle(node["bundle"]), local: fixture.alice, using: &generator)
                try expectState(try #require(record.current), node["setup_internal"]["alice_state_after"], "setup")
            case "encrypt":
                let id = try step["message"].string()
                let message = try #require(messages[id])
                let expected = message["expected_internal"]
                try expectState(try #require(record.current), expected["sender_state_before_encrypt"], "\(id) before")
                let encryption = try SessionCipher.encrypt(try message["plaintext"].bytes(), record: record)
                #expect(encryption.type.rawValue == (try message["type"].string()), "\(id)")
                #expect(Kit.hex(encryption.serialized) == (try message["serialized"].string()), "\(id)")
                record = encryption.record
                try expectState(try #require(record.current), expected["sender_state_after_encrypt"], "\(id) after")
            default:
                let id = try step["message"].string()
                let message = try #require(messages[id])
                let serialized = try message["serialized"].bytes()
                let decryption: SessionCipher.Decryption
                if try message["type"].string() == "pkmsg" {
                    decryption = try SessionCipher.decrypt(
                        try PreKeyWhisperMessage(parsing: serialized),
                        record: record,
                        local: try #require(locals[actor]),
                        signedPreKey: { $0 == fixture.bobSignedPreKeyID ? fixture.bobSignedPreKey : nil },
                        oneTimePreKey: { $0 == fixture.bobOneTimePreKeyID ? fixture.bobOneTimePreKey : nil },
                        using: &generator
                    )
                    consumedPreKeys += decryption.consumedOneTimePreKeyID.map { [$0] } ?? []
                } else {
                    decryption = try SessionCipher.decrypt(try WhisperMessage(parsing: serialized), record: record, using: &generator)
                }
                #expect(decryption.plaintext == (try message["plaintext"].bytes()), "\(id)")
                let sender = try #require(locals[try message["sender"].string()])
                #expect(decryption.remoteIdentityKey == sender.keyPair.publicKey)
                record = decryption.record
                try expectState(try #require(record.current), message["expected_internal"]["receiver_state_after_decrypt"], "\(id) after")
                #expect(record.previousStates.isEmpty)
            }
            let number = try step["step"].int()
            #expect(generator.isExhausted, "step \(number) left draws unused")
            records[actor] = record
        }
        // The one-time prekey is consumed once, by the first pkmsg; the repeats reuse the session.
        #expect(consumedPreKeys == (node["bundle"]["pre_key_id"].isNull ? [] : [fixture.bobOneTimePreKeyID]))
    }

    /// Compares a state with the vector's python-axolotl SessionStructure, field by field.
    private func expectState(_ state: SessionState, _ node: VectorNode, _ context: String) throws {
        #expect(try node["session_version"].int() == 3)
        #expect(state.rootKey == (try node["root_key"].bytes()), "\(context): root key")
        #expect(state.previousCounter == (try node["previous_counter"].uint32()), "\(context): previous counter")
        let sending = node["sending_chain"]
        #expect(state.sendingChain.ratchetPublicKey == (try sending["ratchet_public"].publicKey()), "\(context): sending ratchet key")
        #expect(state.sendingChain.chainKey.key == (try sending["chain_key"].bytes()), "\(context): sending chain key")
        #expect(state.sendingChain.chainKey.index == (try sending["index"].uint32()), "\(context): sending index")
        let chains = node["receiving_chains"].array
        #expect(state.receivingChains.count == chains.count, "\(context): receiving chains")
        for (chain, expected) in zip(state.receivingChains, chains) {
            #expect(chain.ratchetPublicKey == (try expected["ratchet_public"].publicKey()), "\(context): receiving ratchet key")
            #expect(chain.chainKey.key == (try expected["chain_key"].bytes()), "\(context): receiving chain key")
            #expect(chain.chainKey.index == (try expected["index"].uint32()), "\(context): receiving index")
            let skipped = expected["skipped_message_keys"].array
            #expect(chain.storedKeys.count == skipped.count, "\(context): skipped keys")
            for (stored, key) in zip(chain.storedKeys, skipped) {
                let keys = MessageKeys(seed: stored.seed)
                #expect(stored.index == (try key["index"].uint32()), "\(context): skipped index")
                #expect(keys.cipherKey == (try key["cipher_key"].bytes()), "\(context): skipped cipher key")
                #expect(keys.macKey == (try key["mac_key"].bytes()), "\(context): skipped MAC key")
                #expect(keys.iv == (try key["iv"].bytes()), "\(context): skipped IV")
            }
        }
        let pending = node["pending_prekey_message"]
        if pending.isNull {
            #expect(state.pendingPreKey == nil, "\(context): pending prekey")
        } else {
            let expected = SessionState.PendingPreKey(
                oneTimePreKeyID: pending["pre_key_id"].isNull ? nil : try pending["pre_key_id"].uint32(),
                signedPreKeyID: try pending["signed_pre_key_id"].uint32()
            )
            #expect(state.pendingPreKey == expected, "\(context): pending prekey")
            #expect(state.baseKey == (try pending["base_key"].publicKey()), "\(context): base key")
        }
    }
}
