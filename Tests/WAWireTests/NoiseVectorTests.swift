import Crypto
import Testing
@testable import WAWire

/// The public cacophony vector (standard rules) and the WhatsApp known-answer vector, both roles.
@Suite struct NoiseVectorTests {
    typealias Kit = CryptoTestKit

    struct Vector {
        var prologue: [UInt8]
        var initiatorStatic: Curve25519KeyPair
        var initiatorEphemeral: Curve25519KeyPair
        var responderStatic: Curve25519KeyPair
        var responderEphemeral: Curve25519KeyPair
        var handshakeHash: [UInt8]
        var messages: [(payload: [UInt8], ciphertext: [UInt8])]

        init(_ json: [String: Any]) throws {
            prologue = try Kit.bytes(in: json, "init_prologue")
            initiatorStatic = try Curve25519KeyPair(privateKey: Kit.bytes(in: json, "init_static"))
            initiatorEphemeral = try Curve25519KeyPair(privateKey: Kit.bytes(in: json, "init_ephemeral"))
            responderStatic = try Curve25519KeyPair(privateKey: Kit.bytes(in: json, "resp_static"))
            responderEphemeral = try Curve25519KeyPair(privateKey: Kit.bytes(in: json, "resp_ephemeral"))
            handshakeHash = try Kit.bytes(in: json, "handshake_hash")
            let list = try #require(json["messages"] as? [[String: Any]])
            messages = try list.map { (try Kit.bytes(in: $0, "payload"), try Kit.bytes(in: $0, "ciphertext")) }
        }
    }

    static func standardVector() throws -> Vector {
        let file = try Kit.vector("noise-standard-xx")
        let vectors = try #require(file["vectors"] as? [[String: Any]])
        return try Vector(#require(vectors.first))
    }

    static func whatsAppVector() throws -> Vector {
        try Vector(Kit.vector("noise-wa-xx"))
    }

    /// Runs the whole exchange with both roles and checks every byte the vector gives.
    static func check(_ vector: Vector, rules: NoiseHandshake.Rules) throws -> (NoiseTransport, NoiseTransport) {
        var initiator = NoiseHandshake(
            role: .initiator, staticKeyPair: vector.initiatorStatic, ephemeralKeyPair: vector.initiatorEphemeral,
            prologue: vector.prologue, rules: rules)
        var responder = NoiseHandshake(
            role: .responder, staticKeyPair: vector.responderStatic, ephemeralKeyPair: vector.responderEphemeral,
            prologue: vector.prologue, rules: rules)

        let message1 = initiator.writeMessage1(payload: vector.messages[0].payload)
        #expect(message1.ephemeral + message1.payload == vector.messages[0].ciphertext)
        try responder.readMessage1(message1)

        let message2 = try responder.writeMessage2(payload: vector.messages[1].payload)
        #expect(message2.ephemeral + message2.encryptedStatic + message2.encryptedPayload == vector.messages[1].ciphertext)
        let wire2 = vector.messages[1].ciphertext
        let parsed2 = NoiseHandshake.Message2(
            ephemeral: Array(wire2[..<32]), encryptedStatic: Array(wire2[32..<80]), encryptedPayload: Array(wire2[80...]))
        #expect(try initiator.readMessage2(parsed2) == vector.messages[1].payload)
        #expect(initiator.remoteStatic == vector.responderStatic.publicKey)

        let message3 = try initiator.writeMessage3(payload: vector.messages[2].payload)
        #expect(message3.encryptedStatic + message3.encryptedPayload == vector.messages[2].ciphertext)
        let wire3 = vector.messages[2].ciphertext
        let parsed3 = NoiseHandshake.Message3(encryptedStatic: Array(wire3[..<48]), encryptedPayload: Array(wire3[48...]))
        #expect(try responder.readMessage3(parsed3) == vector.messages[2].payload)
        #expect(responder.remoteStatic == vector.initiatorStatic.publicKey)

        #expect(initiator.handshakeHash == vector.handshakeHash)
        #expect(responder.handshakeHash == vector.handshakeHash)

        var initiatorTransport = initiator.split()
        var responderTransport = responder.split()
        for (index, message) in vector.messages.enumerated().dropFirst(3) {
            if index % 2 == 1 {
                #expect(Array(try responderTransport.encrypt(message.payload)) == message.ciphertext, "message \(index)")
                #expect(Array(try initiatorTransport.decrypt(message.ciphertext)) == message.payload, "message \(index)")
            } else {
                #expect(Array(try initiatorTransport.encrypt(message.payload)) == message.ciphertext, "message \(index)")
                #expect(Array(try responderTransport.decrypt(message.ciphertext)) == message.payload, "message \(index)")
            }
        }
        return (initiatorTransport, responderTransport)
    }

    @Test func standardRulesReproduceTheCacophonyVector() throws {
        _ = try Self.check(Self.standardVector(), rules: .standard)
    }

    @Test func whatsAppRulesReproduceTheWhatsAppVector() throws {
        let (initiator, responder) = try Self.check(Self.whatsAppVector(), rules: .whatsApp)
        let json = try Kit.vector("noise-wa-xx")
        let k1 = try Kit.bytes(in: json, "split_k1_initiator_send")
        let k2 = try Kit.bytes(in: json, "split_k2_initiator_recv")
        #expect(initiator.sendKey.withUnsafeBytes { Array($0) } == k1)
        #expect(initiator.receiveKey.withUnsafeBytes { Array($0) } == k2)
        #expect(responder.sendKey.withUnsafeBytes { Array($0) } == k2)
        #expect(responder.receiveKey.withUnsafeBytes { Array($0) } == k1)
    }

    @Test func theRuleSwitchChangesTheTranscript() throws {
        // transport.md §9.2: the WhatsApp inputs under standard rules give another hash.
        let vector = try Self.whatsAppVector()
        var initiator = NoiseHandshake(
            role: .initiator, staticKeyPair: vector.initiatorStatic, ephemeralKeyPair: vector.initiatorEphemeral,
            prologue: vector.prologue, rules: .standard)
        var responder = NoiseHandshake(
            role: .responder, staticKeyPair: vector.responderStatic, ephemeralKeyPair: vector.responderEphemeral,
            prologue: vector.prologue, rules: .standard)
        try responder.readMessage1(initiator.writeMessage1())
        _ = try initiator.readMessage2(responder.writeMessage2(payload: vector.messages[1].payload))
        _ = try responder.readMessage3(initiator.writeMessage3(payload: vector.messages[2].payload))
        #expect(Kit.hex(initiator.handshakeHash) == "d48798df4ee94f31ae2f0d5be34598fb87ddfe019189b14bab7df25a249fbc3f")
        #expect(responder.handshakeHash == initiator.handshakeHash)
    }

    @Test func mixedRulesDoNotAgree() throws {
        var initiator = NoiseHandshake(role: .initiator, staticKeyPair: .generate(), rules: .whatsApp)
        var responder = NoiseHandshake(role: .responder, staticKeyPair: .generate(), rules: .standard)
        try responder.readMessage1(initiator.writeMessage1())
        let message2 = try responder.writeMessage2(payload: [1, 2, 3])
        #expect(throws: NoiseError(.decryptionFailed)) { try initiator.readMessage2(message2) }
    }

    @Test func transportNonceIsEightZerosAndABigEndianCounter() throws {
        let key = SymmetricKey(data: [UInt8](repeating: 7, count: 32))
        var transport = NoiseTransport(sendKey: key, receiveKey: key, sendCounter: 0x0102_0304)
        let nonce = try AES.GCM.Nonce(data: [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
        let expected = try AES.GCM.seal([9, 9, 9], using: key, nonce: nonce)
        #expect(Array(try transport.encrypt([9, 9, 9])) == Array(expected.ciphertext) + Array(expected.tag))
    }
}
