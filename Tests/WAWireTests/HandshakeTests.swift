import Foundation
import SwiftProtobuf
import Testing
@testable import WAWire

@Suite struct HandshakeTests {
    typealias Fixtures = HandshakeFixtures
    let pki = Fixtures.TestPKI()

    /// The keys of the WhatsApp known-answer vector (transport.md §9.2).
    struct KnownAnswer {
        let clientStatic: Curve25519KeyPair
        let clientEphemeral: Curve25519KeyPair
        let serverStatic: Curve25519KeyPair
        let serverEphemeral: Curve25519KeyPair
        let messages: [[UInt8]]
        let payloads: [[UInt8]]

        init() throws {
            let vector = try CryptoTestKit.vector("noise-wa-xx")
            clientStatic = try Curve25519KeyPair(privateKey: CryptoTestKit.bytes(in: vector, "init_static"))
            clientEphemeral = try Curve25519KeyPair(privateKey: CryptoTestKit.bytes(in: vector, "init_ephemeral"))
            serverStatic = try Curve25519KeyPair(privateKey: CryptoTestKit.bytes(in: vector, "resp_static"))
            serverEphemeral = try Curve25519KeyPair(privateKey: CryptoTestKit.bytes(in: vector, "resp_ephemeral"))
            let entries = try #require(vector["messages"] as? [[String: Any]])
            messages = try entries.map { entry in CryptoTestKit.bytes(try #require(entry["ciphertext"] as? String)) }
            payloads = try entries.map { entry in CryptoTestKit.bytes(try #require(entry["payload"] as? String)) }
        }
    }

    @Test func firstWebSocketMessageMatchesTheProtocolNotes() throws {
        let vector = try KnownAnswer()
        var client = ClientHandshake(
            noiseKey: vector.clientStatic, payload: ClientPayloadBuilder().loginPayload(username: 1, device: 1),
            ephemeralKey: vector.clientEphemeral
        )
        var writer = FrameWriter()
        let message = try writer.encode(try client.start())
        #expect(
            CryptoTestKit.hex(message)
                == "5741060300002412220a20ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
        )
    }

    @Test func handshakeBodiesMatchTheKnownAnswerFraming() throws {
        let vector = try KnownAnswer()
        var server = ServerHandshake(
            staticKey: vector.serverStatic, certificateChain: vector.payloads[1], ephemeralKey: vector.serverEphemeral
        )
        var client = ClientHandshake(
            noiseKey: vector.clientStatic, payload: WAClientPayload(), ephemeralKey: vector.clientEphemeral
        )
        let serverHello = try server.receiveClientHello(try client.start())
        let message2 = vector.messages[1]
        var expectedServerHello: [UInt8] = [0x1A, 0x83, 0x01, 0x0A, 0x20]
        expectedServerHello += message2[0..<32]
        expectedServerHello += [0x12, 0x30]
        expectedServerHello += message2[32..<80]
        expectedServerHello += [0x1A, 0x2D]
        expectedServerHello += message2[80...]
        #expect(serverHello == expectedServerHello)

        // The vector's "certificate chain" is a placeholder, so the client must refuse it.
        #expect(throws: CertificateChainError(.malformed)) { try client.receiveServerHello(serverHello, now: Fixtures.now) }

        // The vector's message 3, as a ClientFinish body, from a bare Noise initiator.
        var noise = NoiseHandshake(
            role: .initiator, staticKeyPair: vector.clientStatic, ephemeralKeyPair: vector.clientEphemeral
        )
        _ = noise.writeMessage1()
        _ = try noise.readMessage2(HandshakeFrame.serverHello(from: serverHello))
        let clientFinish = HandshakeFrame.body(of: try noise.writeMessage3(payload: vector.payloads[2]))
        let message3 = vector.messages[2]
        var expectedClientFinish: [UInt8] = [0x22, 0x5E, 0x0A, 0x30]
        expectedClientFinish += message3[0..<48]
        expectedClientFinish += [0x12, 0x2A]
        expectedClientFinish += message3[48...]
        #expect(clientFinish == expectedClientFinish)
        // The server decrypts it and hands the placeholder to the ClientPayload parser, which refuses it.
        #expect(throws: ClientPayloadError(.malformed)) { try server.receiveClientFinish(clientFinish) }
    }

    @Test func registrationHandshakeCompletesInMemory() throws {
        let companion = Curve25519KeyPair.generate()
        let keys = try ClientPayloadBuilderTests.companionKeys()
        var client = ClientHandshake(
            noiseKey: companion, payload: try ClientPayloadBuilder().registrationPayload(keys: keys),
            trustedRootKey: pki.root.publicKey
        )
        var server = ServerHandshake(staticKey: pki.serverStatic, certificateChain: pki.chain())

        let serverHello = try server.receiveClientHello(try client.start())
        let clientSide = try client.receiveServerHello(serverHello, now: Fixtures.now)
        let serverSide = try server.receiveClientFinish(clientSide.clientFinish)

        #expect(clientSide.certificateChain.leaf.key == pki.serverStatic.publicKey)
        #expect(serverSide.clientStaticKey == companion.publicKey)
        guard case .registration(let received, let buildHash, _) = serverSide.clientPayload.kind else {
            Issue.record("expected a registration")
            return
        }
        #expect(received == keys)
        #expect(buildHash == WebClientVersion.pinned.buildHash)

        var clientTransport = clientSide.transport
        var serverTransport = serverSide.transport
        let fromServer = try serverTransport.encrypt([0x00, 0x01, 0x02])
        #expect(Array(try clientTransport.decrypt(fromServer)) == [0x00, 0x01, 0x02])
        let fromClient = try clientTransport.encrypt([0x00, 0x03])
        #expect(Array(try serverTransport.decrypt(fromClient)) == [0x00, 0x03])
    }

    @Test func loginHandshakeTellsTheServerWhoLogsIn() throws {
        var client = ClientHandshake(
            noiseKey: .generate(), payload: ClientPayloadBuilder().loginPayload(username: 15_551_234_567, device: 12),
            trustedRootKey: pki.root.publicKey
        )
        var server = ServerHandshake(staticKey: pki.serverStatic, certificateChain: pki.chain())
        let serverHello = try server.receiveClientHello(try client.start())
        let finish = try client.receiveServerHello(serverHello, now: Fixtures.now).clientFinish
        let completion = try server.receiveClientFinish(finish)
        #expect(completion.clientPayload.kind == .login(username: 15_551_234_567, device: 12))
        #expect(completion.clientPayload.payload.lidDbMigrated)
    }

    @Test func clientRefusesAChainNotFromItsTrustedRoot() throws {
        var client = ClientHandshake(noiseKey: .generate(), payload: WAClientPayload())
        var server = ServerHandshake(staticKey: pki.serverStatic, certificateChain: pki.chain())
        let serverHello = try server.receiveClientHello(try client.start())
        #expect(throws: CertificateChainError(.intermediateSignatureInvalid)) {
            try client.receiveServerHello(serverHello, now: Fixtures.now)
        }
    }

    @Test func clientRefusesAServerWhoseKeyTheLeafDoesNotCertify() throws {
        let impostor = Curve25519KeyPair.generate()
        var client = ClientHandshake(noiseKey: .generate(), payload: WAClientPayload(), trustedRootKey: pki.root.publicKey)
        var server = ServerHandshake(staticKey: impostor, certificateChain: pki.chain())
        let serverHello = try server.receiveClientHello(try client.start())
        #expect(throws: CertificateChainError(.leafKeyMismatch)) {
            try client.receiveServerHello(serverHello, now: Fixtures.now)
        }
    }

    @Test func clientChecksValidityAtTheInjectedTime() throws {
        var client = ClientHandshake(noiseKey: .generate(), payload: WAClientPayload(), trustedRootKey: pki.root.publicKey)
        var server = ServerHandshake(staticKey: pki.serverStatic, certificateChain: pki.chain())
        let serverHello = try server.receiveClientHello(try client.start())
        #expect(throws: CertificateChainError(.intermediateExpired)) {
            try client.receiveServerHello(serverHello, now: Fixtures.now + 86401)
        }
    }

    @Test func tamperedServerHelloFailsDecryption() throws {
        var client = ClientHandshake(noiseKey: .generate(), payload: WAClientPayload(), trustedRootKey: pki.root.publicKey)
        var server = ServerHandshake(staticKey: pki.serverStatic, certificateChain: pki.chain())
        var serverHello = try server.receiveClientHello(try client.start())
        serverHello[serverHello.count - 1] ^= 0x01
        #expect(throws: NoiseError(.decryptionFailed)) { try client.receiveServerHello(serverHello, now: Fixtures.now) }
    }

    @Test func stepsOutOfOrderAndAfterAFailureAreRefused() throws {
        var client = ClientHandshake(noiseKey: .generate(), payload: WAClientPayload(), trustedRootKey: pki.root.publicKey)
        #expect(throws: HandshakeError(.outOfOrder)) { try client.receiveServerHello([], now: Fixtures.now) }
        let hello = try client.start()
        #expect(throws: HandshakeError(.outOfOrder)) { try client.start() }
        #expect(throws: HandshakeError(.malformed)) { try client.receiveServerHello([0xFF], now: Fixtures.now) }
        #expect(throws: HandshakeError(.outOfOrder)) { try client.receiveServerHello([], now: Fixtures.now) }

        var server = ServerHandshake(staticKey: pki.serverStatic, certificateChain: pki.chain())
        #expect(throws: HandshakeError(.outOfOrder)) { try server.receiveClientFinish([]) }
        _ = try server.receiveClientHello(hello)
        #expect(throws: HandshakeError(.outOfOrder)) { try server.receiveClientHello(hello) }
    }

    @Test(arguments: FrameDefect.allCases)
    func malformedHandshakeFramesAreRefusedBeforeAnyCryptography(defect: FrameDefect) {
        #expect(throws: HandshakeError(defect.expectedCode)) { try defect.parse() }
    }
}

/// A handshake frame body with one thing wrong, and the frame parser it goes to.
enum FrameDefect: CaseIterable, Sendable {
    case oversized, notProtobuf, clientHelloWhereServerHelloExpected, serverHelloWithoutEphemeral
    case serverHelloWithShortEphemeral, serverHelloWithoutStatic, serverHelloWithLongStatic
    case serverHelloWithoutPayload, emptyClientHello, clientFinishWithoutStatic, clientFinishWithoutPayload
    case serverHelloWhereClientFinishExpected

    var expectedCode: HandshakeError.Code {
        switch self {
        case .oversized: .tooLarge
        case .notProtobuf: .malformed
        case .clientHelloWhereServerHelloExpected, .serverHelloWhereClientFinishExpected: .unexpectedMessage
        case .serverHelloWithoutEphemeral, .emptyClientHello: .missingEphemeral
        case .serverHelloWithShortEphemeral: .ephemeralLength
        case .serverHelloWithoutStatic, .clientFinishWithoutStatic: .missingStatic
        case .serverHelloWithLongStatic: .staticLength
        case .serverHelloWithoutPayload, .clientFinishWithoutPayload: .missingPayload
        }
    }

    func parse() throws {
        var serverHello = WAHandshakeMessage()
        serverHello.serverHello.ephemeral = Data(repeating: 1, count: 32)
        serverHello.serverHello.static = Data(repeating: 2, count: 48)
        serverHello.serverHello.payload = Data(repeating: 3, count: 20)
        var clientFinish = WAHandshakeMessage()
        clientFinish.clientFinish.static = Data(repeating: 2, count: 48)
        clientFinish.clientFinish.payload = Data(repeating: 3, count: 20)
        switch self {
        case .oversized:
            _ = try HandshakeFrame.serverHello(from: [UInt8](repeating: 0, count: HandshakeFrame.maxBodySize + 1))
        case .notProtobuf:
            _ = try HandshakeFrame.clientFinish(from: [0x1A, 0x83])
        case .clientHelloWhereServerHelloExpected:
            _ = try HandshakeFrame.serverHello(from: HandshakeFrame.body(of: NoiseHandshake.Message1(ephemeral: [])))
        case .serverHelloWithoutEphemeral:
            serverHello.serverHello.clearEphemeral()
            _ = try HandshakeFrame.serverHello(from: serverHello.serializedBytes())
        case .serverHelloWithShortEphemeral:
            serverHello.serverHello.ephemeral.removeLast()
            _ = try HandshakeFrame.serverHello(from: serverHello.serializedBytes())
        case .serverHelloWithoutStatic:
            serverHello.serverHello.clearStatic()
            _ = try HandshakeFrame.serverHello(from: serverHello.serializedBytes())
        case .serverHelloWithLongStatic:
            serverHello.serverHello.static.append(0)
            _ = try HandshakeFrame.serverHello(from: serverHello.serializedBytes())
        case .serverHelloWithoutPayload:
            serverHello.serverHello.clearPayload()
            _ = try HandshakeFrame.serverHello(from: serverHello.serializedBytes())
        case .emptyClientHello:
            _ = try HandshakeFrame.clientHello(from: [0x12, 0x00])
        case .clientFinishWithoutStatic:
            clientFinish.clientFinish.clearStatic()
            _ = try HandshakeFrame.clientFinish(from: clientFinish.serializedBytes())
        case .clientFinishWithoutPayload:
            clientFinish.clientFinish.clearPayload()
            _ = try HandshakeFrame.clientFinish(from: clientFinish.serializedBytes())
        case .serverHelloWhereClientFinishExpected:
            _ = try HandshakeFrame.clientFinish(from: serverHello.serializedBytes())
        }
    }
}
