import Foundation
import Testing
@testable import WAClient
@testable import WASim
import WAWire

@Suite("Simulator connection machine")
struct SimSessionTests {
    private func freshCredentials(_ seed: UInt64 = 31) -> DeviceCredentials {
        var random = SeededRandom(seed: seed)
        return DeviceCredentials.generate(using: &random)
    }

    /// A registration whose pair-device was acknowledged.
    private func registered(_ world: SimWorld, configuration: SimConnectionMachine.Configuration? = nil) throws -> ScriptedClient {
        try acknowledged(ScriptedClient(world: world, credentials: freshCredentials(), configuration: configuration))
    }

    /// A registration with no world behind the machine (a registration asks the world nothing until a
    /// scan or a code pairing); its pair-device was acknowledged.
    private func registered() throws -> ScriptedClient {
        try acknowledged(ScriptedClient(answering: Self.noAnswer, credentials: freshCredentials()))
    }

    private func acknowledged(_ client: ScriptedClient) throws -> ScriptedClient {
        var client = client
        let pairDevice = try #require(client.last("iq"))
        try client.send(Node("iq", ["to": .server, "id": .string(pairDevice.attribute("id") ?? ""), "type": "result"]))
        return client
    }

    private static func noAnswer(_ question: SimWorld.Question) -> SimWorld.Answer {
        Issue.record("unexpected question \(question)")
        return .codePairingOffered(false)
    }

    /// Links a device through the real client machines and returns its paired credentials.
    private func linkedCredentials(_ conversation: Conversation) throws -> DeviceCredentials {
        try conversation.pairByQR()
    }

    @Test func aRegistrationGetsSixRefsInPairDeviceAndOffersTheFirstToThePhone() throws {
        let client = try ScriptedClient(answering: Self.noAnswer, credentials: freshCredentials())
        let iq = try #require(client.received.first)
        #expect(iq.attribute("type") == "set")
        #expect(iq.attribute("xmlns") == "md")
        #expect(iq.jidAttribute("from") == .serverJID)
        let refs = try #require(iq.child("pair-device")?.children)
        #expect(refs.count == 6)
        #expect(refs.allSatisfy { $0.tag == "ref" && $0.bytes?.count == 82 && $0.bytes?.starts(with: Array("2@".utf8)) == true })
        #expect(client.timers[.refExpiry] == client.now.addingTimeInterval(60))
        #expect(client.machine.phase == .registered)
        let offered = client.updates.compactMap { if case .offerRef(let ref) = $0 { ref } else { nil } }
        #expect(offered == [String(decoding: try #require(refs.first?.bytes), as: UTF8.self)])
    }

    @Test func theRefOnScreenMovesOnAsRefsExpire() throws {
        var client = try ScriptedClient(answering: Self.noAnswer, credentials: freshCredentials())
        let refs = try #require(client.received.first?.child("pair-device")?.children).compactMap(\.bytes).map { String(decoding: $0, as: UTF8.self) }
        client.updates = []
        try client.fire(.refExpiry)
        #expect(client.timers[.refExpiry] == client.now.addingTimeInterval(20))
        guard client.updates.count == 2, case .withdrawRef(refs[0]) = client.updates[0], case .offerRef(refs[1]) = client.updates[1] else {
            Issue.record("expected refs[0] withdrawn and refs[1] offered, got \(client.updates)")
            return
        }
    }

    @Test func aMissingPairDeviceAckIsAViolation() throws {
        var client = try ScriptedClient(answering: Self.noAnswer, credentials: freshCredentials())
        let id = try #require(client.received.first?.attribute("id"))
        try client.fire(.answer(id))
        #expect(client.violations.map(\.kind) == [.missingAnswer])
        #expect(client.violations.first?.detail.contains("pair-device") == true)
    }

    @Test func pairDeviceAnsweredWithAnErrorIsAViolation() throws {
        var client = try ScriptedClient(answering: Self.noAnswer, credentials: freshCredentials())
        let id = try #require(client.received.first?.attribute("id"))
        try client.send(Node("iq", ["to": .server, "id": .string(id), "type": "error"]))
        #expect(client.violations.map(\.kind) == [.malformedStanza])
    }

    @Test func iqsWithoutIDTypeOrAddressAreViolations() throws {
        var client = try registered()
        try client.send(Node("iq", ["to": .server, "type": "get", "xmlns": "w:p"]))
        try client.send(Node("iq", ["to": .server, "id": "x1", "type": "fetch"]))
        try client.send(Node("iq", ["to": "example.com", "id": "x2", "type": "get", "xmlns": "w:p"]))
        #expect(client.violations.map(\.kind) == [.malformedStanza, .malformedStanza, .malformedStanza])
        let refusal = try #require(client.last("iq"))
        #expect(refusal.attribute("id") == "x2")
        #expect(refusal.attribute("type") == "error")
        #expect(refusal.child("error")?.attribute("code") == "400")
        #expect(!client.isClosed)
    }

    @Test func answersAndAcksForNothingAreViolations() throws {
        var client = try registered()
        try client.send(Node("iq", ["to": .server, "id": "nope", "type": "result"]))
        try client.send(Node("ack", ["class": "notification", "id": "nope", "to": .server]))
        #expect(client.violations.map(\.kind) == [.unexpectedAnswer, .unexpectedAnswer])
    }

    @Test func anUnknownIQIsAnsweredNotImplementedWithoutAViolation() throws {
        var client = try registered()
        try client.send(Node("iq", ["to": .server, "id": "u1", "type": "get", "xmlns": "w:g2"]))
        #expect(client.last("iq")?.child("error")?.attribute("code") == "501")
        #expect(client.violations.isEmpty)
    }

    @Test func keepalivePingsAreAnsweredWithTheServerTime() throws {
        var client = try registered()
        try client.send(Node("iq", ["to": .server, "id": "k1", "type": "get", "xmlns": "w:p"]))
        let answer = try #require(client.last("iq"))
        #expect(answer.attribute("id") == "k1")
        #expect(answer.attribute("type") == "result")
        #expect(answer.attribute("t") == "1760000000")
    }

    @Test func companionHelloBeforeThePairDeviceAckIsOutOfOrder() throws {
        let world = SimWorld()
        var random = SeededRandom(seed: 3)
        world.addAccount(SimAccount.generate(phoneNumber: "15551234567", using: &random))
        var client = try ScriptedClient(world: world, credentials: freshCredentials())
        try client.send(companionHello(client))
        #expect(world.violationKinds == [.wrongOrder])
        #expect(client.last("iq")?.child("error")?.attribute("code") == "400")
    }

    @Test func aMalformedOrMisaddressedCompanionHelloIsAViolation() throws {
        let world = SimWorld()
        var random = SeededRandom(seed: 3)
        world.addAccount(SimAccount.generate(phoneNumber: "15551234567", using: &random))
        var client = try registered(world)
        try client.send(companionHello(client, wrappedSize: 79))
        try client.send(companionHello(client, authKey: [UInt8](repeating: 1, count: 32)))
        try client.send(companionHello(client, platform: "z"))
        #expect(world.violationKinds == [.malformedStanza, .badSignature, .malformedStanza])

        try client.send(companionHello(client))
        #expect(client.last("iq")?.child("link_code_companion_reg")?.child("link_code_pairing_ref")?.bytes != nil)
        try client.send(companionHello(client))
        #expect(world.violationKinds.last == .wrongOrder)
    }

    @Test func companionFinishBeforePrimaryHelloIsOutOfOrder() throws {
        var client = try registered()
        try client.send(Node("iq", ["to": .server, "id": "f1", "type": "set", "xmlns": "md"], [
            Node("link_code_companion_reg", ["jid": .jid(JID(user: "15551234567", server: .whatsApp)), "stage": "companion_finish"]),
        ]))
        #expect(client.violations.map(\.kind) == [.wrongOrder])
    }

    private func companionHello(
        _ client: ScriptedClient, wrappedSize: Int = 80, authKey: [UInt8]? = nil, platform: String = "1"
    ) -> Node {
        Node("iq", ["to": .server, "id": "h\(wrappedSize)\(platform)", "type": "set", "xmlns": "md"], [
            Node("link_code_companion_reg", [
                "jid": .jid(JID(user: "15551234567", server: .whatsApp)), "stage": "companion_hello",
                "should_show_push_notification": "true",
            ], [
                Node("link_code_pairing_wrapped_companion_ephemeral_pub", bytes: [UInt8](repeating: 4, count: wrappedSize)),
                Node("companion_server_auth_key_pub", bytes: authKey ?? client.noisePublicKey),
                Node("companion_platform_id", content: .string(platform)),
                Node("companion_platform_display", content: .string("Chrome (Linux)")),
                Node("link_code_pairing_nonce", content: .string("0")),
            ]),
        ])
    }

    /// A scanned registration that received pair-success; returns the client and the pair-success stanza.
    private func pairSuccessReceived(_ world: SimWorld) throws -> (ScriptedClient, Node) {
        var random = SeededRandom(seed: 8)
        world.addAccount(SimAccount.generate(phoneNumber: "15551234567", using: &random))
        var client = try registered(world)
        try world.scan(try client.qr(), phoneNumber: "15551234567")
        try client.deliverInbox()
        let success = try #require(client.received.last { $0.child("pair-success") != nil })
        return (client, success)
    }

    private func signedReply(_ client: ScriptedClient, _ success: Node) throws -> (reply: [UInt8], keyIndex: String) {
        let identity = try #require(success.child("pair-success")?.child("device-identity")?.bytes)
        let verified = try ADVCompanion.verify(deviceIdentity: identity, advSecret: client.credentials.advSecret, identity: client.identity)
        return (verified.reply, verified.keyIndexAttribute)
    }

    private func pairDeviceSign(_ id: String, reply: [UInt8], keyIndex: String) -> Node {
        Node("iq", ["to": .server, "id": .string(id), "type": "result"], [
            Node("pair-device-sign", [Node("device-identity", ["key-index": .string(keyIndex)], bytes: reply)]),
        ])
    }

    @Test func aValidPairDeviceSignLinksTheDeviceThenRestarts() throws {
        let world = SimWorld()
        var (client, success) = try pairSuccessReceived(world)
        #expect(success.child("pair-success")?.child("device")?.jidAttribute("jid") == JID(user: "15551234567", device: 1, server: .whatsApp))
        #expect(success.child("pair-success")?.child("device")?.jidAttribute("lid")?.server == .lid)
        #expect(client.timers[.refExpiry] == nil)
        let (reply, keyIndex) = try signedReply(client, success)
        try client.send(pairDeviceSign(try #require(success.attribute("id")), reply: reply, keyIndex: keyIndex))
        #expect(client.last("stream:error")?.attribute("code") == "515")
        #expect(client.isClosed)
        #expect(world.devices.count == 1)
        #expect(world.violations.isEmpty)
    }

    @Test func aPairDeviceSignWithABadSignatureIsRefused() throws {
        let world = SimWorld()
        var (client, success) = try pairSuccessReceived(world)
        var (reply, keyIndex) = try signedReply(client, success)
        reply[reply.count - 1] ^= 0x01
        try client.send(pairDeviceSign(try #require(success.attribute("id")), reply: reply, keyIndex: keyIndex))
        #expect(world.violationKinds == [.badSignature])
        #expect(client.isClosed)
        #expect(world.devices.isEmpty)
    }

    @Test func aPairDeviceSignWithTheWrongKeyIndexIsRefused() throws {
        let world = SimWorld()
        var (client, success) = try pairSuccessReceived(world)
        let (reply, _) = try signedReply(client, success)
        try client.send(pairDeviceSign(try #require(success.attribute("id")), reply: reply, keyIndex: "999"))
        #expect(world.violationKinds == [.malformedStanza])
        #expect(world.devices.isEmpty)
    }

    @Test func noAnswerToPairSuccessIsAViolationAndEndsTheConnection() throws {
        let world = SimWorld()
        var (client, success) = try pairSuccessReceived(world)
        try client.fire(.answer(try #require(success.attribute("id"))))
        #expect(world.violationKinds == [.missingAnswer])
        #expect(client.isClosed)
        #expect(world.liveConnections.isEmpty)
    }

    @Test func aRefusedPairSuccessMustCarryAnErrorChild() throws {
        let world = SimWorld()
        var (client, success) = try pairSuccessReceived(world)
        try client.send(Node("iq", ["to": .server, "id": .string(success.attribute("id") ?? ""), "type": "error"]))
        #expect(world.violationKinds == [.malformedStanza])
        #expect(world.devices.isEmpty)
    }

    // MARK: Login

    @Test func aLoginOfAnUnknownDeviceIsRefusedWith401() throws {
        let world = SimWorld()
        let client = try ScriptedClient(world: world, credentials: ScriptedSession.pairedCredentials())
        #expect(client.last("failure")?.attribute("reason") == "401")
        #expect(client.isClosed)
        #expect(world.liveConnections.isEmpty)
    }

    @Test func aLoginAsksTheWorldAndIsRefusedWhenTheDeviceIsNotLinked() throws {
        let credentials = ScriptedSession.pairedCredentials()
        let noiseKey = try Curve25519KeyPair(privateKey: credentials.noiseKey).publicKey
        let client = try ScriptedClient(answering: { _ in .login(nil) }, credentials: credentials)
        #expect(client.questions == [.login(JID(user: "15551234567", device: 3, server: .whatsApp), noiseKey: noiseKey)])
        #expect(client.last("failure")?.attribute("reason") == "401")
        #expect(client.isClosed)
        #expect(client.updates.contains { if case .note(.loginRefused(_, reason: 401)) = $0 { true } else { false } })
        guard case .connectionEnded = client.updates.last else {
            Issue.record("expected the connection ended last, got \(client.updates)")
            return
        }
    }

    /// A login the world accepts for `linked`, with no world behind the machine; the count query gets `available`.
    private func loggedIn(_ linked: SimLinkedDevice, credentials: DeviceCredentials, available: Int) throws -> ScriptedClient {
        try ScriptedClient(answering: { question in
            switch question {
            case .login: .login(linked)
            case .availablePreKeys: .availablePreKeys(available)
            default: Self.noAnswer(question)
            }
        }, credentials: credentials)
    }

    @Test func theCountQueryIsAnsweredWithWhatTheWorldHolds() throws {
        let credentials = ScriptedSession.pairedCredentials()
        let jid = JID(user: "15551234567", device: 3, server: .whatsApp)
        let linked = SimLinkedDevice(
            phoneNumber: "15551234567", deviceID: 3, lidUser: "777", noisePublicKey: [], identityPublicKey: [],
            registrationID: credentials.registrationID, keyIndex: 1, linkedAt: Conversation.start, os: "test"
        )
        var client = try loggedIn(linked, credentials: credentials, available: 37)
        #expect(client.machine.phase == .loggedIn)
        #expect(client.last("success")?.jidAttribute("lid") == linked.lid)
        try client.send(Node("iq", ["to": .server, "id": "c1", "type": "get", "xmlns": "encrypt"], [Node("count")]))
        #expect(client.questions.last == .availablePreKeys(jid))
        #expect(client.last("iq")?.attribute("id") == "c1")
        #expect(client.last("iq")?.child("count")?.attribute("value") == "37")
    }

    @Test func framesBehindAQuestionWaitForItsAnswer() throws {
        let credentials = ScriptedSession.pairedCredentials()
        let linked = SimLinkedDevice(
            phoneNumber: "15551234567", deviceID: 3, lidUser: "777", noisePublicKey: [], identityPublicKey: [],
            registrationID: credentials.registrationID, keyIndex: 1, linkedAt: Conversation.start, os: "test"
        )
        var client = try loggedIn(linked, credentials: credentials, available: 5)
        // Two stanzas in one WebSocket message: the ping is answered after the count, in order.
        try client.send(messageOf: [
            Node("iq", ["to": .server, "id": "c1", "type": "get", "xmlns": "encrypt"], [Node("count")]),
            Node("iq", ["to": .server, "id": "k1", "type": "get", "xmlns": "w:p"]),
        ])
        #expect(client.received.suffix(2).map { $0.attribute("id") } == ["c1", "k1"])
    }

    /// A device linked in `world` through the client machines, logged in by a scripted client.
    private func loggedIn(_ conversation: Conversation) throws -> ScriptedClient {
        let credentials = try linkedCredentials(conversation)
        let client = try ScriptedClient(world: conversation.world, credentials: credentials, seed: 44)
        let success = try #require(client.last("success"))
        #expect(success.attribute("t") == "1760000000")
        #expect(success.jidAttribute("lid")?.server == .lid)
        return client
    }

    @Test func theFirstIQsMustStartWithTheCountQuery() throws {
        let conversation = Conversation()
        var client = try loggedIn(conversation)
        try client.send(Node("iq", ["to": .server, "id": "p1", "type": "set", "xmlns": "passive"], [Node("active")]))
        #expect(conversation.world.violationKinds == [.wrongOrder])
        try client.send(try upload(client, keys: 3, id: "u1"))
        #expect(conversation.world.violationKinds == [.wrongOrder, .wrongOrder])
    }

    @Test func theCountIsUploadedMinusHandedOut() throws {
        let conversation = Conversation()
        var client = try loggedIn(conversation)
        try client.send(Node("iq", ["to": .server, "id": "c1", "type": "get", "xmlns": "encrypt"], [Node("count")]))
        #expect(client.last("iq")?.child("count")?.attribute("value") == "0")
        try client.send(try upload(client, keys: 20, id: "u1"))
        #expect(client.last("iq")?.attribute("type") == "result")
        let jid = try #require(client.machine.device)
        conversation.world.handOutPreKeys(of: jid, count: 6)
        try client.send(Node("iq", ["to": .server, "id": "c2", "type": "get", "xmlns": "encrypt"], [Node("count")]))
        #expect(client.last("iq")?.child("count")?.attribute("value") == "14")
        #expect(conversation.world.violations.isEmpty)
    }

    private func upload(
        _ client: ScriptedClient, keys count: Int, id: String,
        registration: UInt32? = nil, identity: [UInt8]? = nil, duplicate: Bool = false, badSignature: Bool = false
    ) throws -> Node {
        let credentials = client.credentials
        let signedPreKey = try Curve25519KeyPair(privateKey: credentials.signedPreKey)
        var signature = credentials.signedPreKeySignature
        if badSignature {
            signature[0] ^= 1
        }
        let ids = (1...max(1, count)).map { duplicate ? 1 : UInt32($0) }.prefix(count)
        return Node("iq", ["to": .server, "id": .string(id), "type": "set", "xmlns": "encrypt"], [
            Node("registration", bytes: ClientSessionMachine.bigEndian(registration ?? credentials.registrationID, count: 4)),
            Node("type", bytes: [5]),
            Node("identity", bytes: identity ?? client.identity.publicKey),
            Node("list", ids.map { keyID in
                Node("key", [
                    Node("id", bytes: ClientSessionMachine.bigEndian(keyID, count: 3)),
                    Node("value", bytes: (try? OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: keyID).publicKey) ?? []),
                ])
            }),
            Node("skey", [
                Node("id", bytes: ClientSessionMachine.bigEndian(credentials.signedPreKeyID, count: 3)),
                Node("value", bytes: signedPreKey.publicKey),
                Node("signature", bytes: signature),
            ]),
        ])
    }

    @Test func uploadsWithTheWrongShapeAreRefusedAndRecorded() throws {
        let conversation = Conversation()
        var client = try loggedIn(conversation)
        try client.send(Node("iq", ["to": .server, "id": "c1", "type": "get", "xmlns": "encrypt"], [Node("count")]))
        try client.send(try upload(client, keys: 3, id: "u1", registration: 12345))
        try client.send(try upload(client, keys: 3, id: "u2", identity: [UInt8](repeating: 9, count: 32)))
        try client.send(try upload(client, keys: 3, id: "u3", duplicate: true))
        try client.send(try upload(client, keys: 3, id: "u4", badSignature: true))
        try client.send(try upload(client, keys: 0, id: "u5"))
        try client.send(try upload(client, keys: 2001, id: "u6"))
        #expect(conversation.world.violationKinds == [
            .malformedStanza, .badSignature, .malformedStanza, .badSignature, .malformedStanza, .malformedStanza,
        ])
        let answers = client.received.filter { $0.tag == "iq" && $0.attribute("id")?.hasPrefix("u") == true }
        #expect(answers.count == 6)
        #expect(answers.allSatisfy { $0.child("error")?.attribute("code") == "400" })
        let jid = try #require(client.machine.device)
        #expect(conversation.world.device(jid)?.uploadedPreKeys == 0)
    }

    @Test func removingAnotherDeviceIsForbidden() throws {
        let conversation = Conversation()
        var client = try loggedIn(conversation)
        try client.send(Node("iq", ["to": .server, "id": "r1", "type": "set", "xmlns": "md"], [
            Node("remove-companion-device", ["jid": .jid(JID(user: "15551234567", device: 77, server: .whatsApp)), "reason": "user_initiated"]),
        ]))
        #expect(client.last("iq")?.child("error")?.attribute("code") == "403")
        #expect(conversation.world.violationKinds == [.malformedStanza])
        #expect(conversation.world.devices.count == 1)
    }

    @Test func theLowPreKeyNotificationMustBeAckedWithItsType() throws {
        let conversation = Conversation()
        var client = try loggedIn(conversation)
        let jid = try #require(client.machine.device)
        try client.send(Node("iq", ["to": .server, "id": "c1", "type": "get", "xmlns": "encrypt"], [Node("count")]))
        try client.send(try upload(client, keys: 12, id: "u1"))
        conversation.world.handOutPreKeys(of: jid, count: 10)
        try client.deliverInbox()
        let first = try #require(client.last("notification"))
        #expect(first.attribute("type") == "encrypt")
        #expect(first.child("count")?.attribute("value") == "2")
        try client.send(Node("ack", ["class": "notification", "id": .string(first.attribute("id") ?? ""), "to": .server, "type": "devices"]))
        #expect(conversation.world.violationKinds == [.malformedStanza])

        conversation.world.handOutPreKeys(of: jid, count: 1)
        try client.deliverInbox()
        let second = try #require(client.last("notification")?.attribute("id"))
        try client.fire(.answer(second))
        #expect(conversation.world.violationKinds == [.malformedStanza, .missingAnswer])
    }

    // MARK: Broken input

    @Test func aWrongConnectionHeaderIsATransportViolation() throws {
        var machine = SimConnectionMachine(id: SimConnectionID(1), configuration: TestServerKeys().serverConfiguration)
        _ = machine.handle(.connected(now: Conversation.start))
        let actions = machine.handle(.received(Array("GET / HTTP/1.1\r\n".utf8), now: Conversation.start))
        guard actions.count == 3, case .update(.record(let violation)) = actions[0], case .update(.connectionEnded) = actions[1],
              case .close = actions[2]
        else {
            Issue.record("expected a violation, the world told, and the close; got \(actions)")
            return
        }
        #expect(violation.kind == .transport)
        #expect(machine.handle(.received([1, 2, 3], now: Conversation.start)).isEmpty)
    }

    @Test func aFrameThatDoesNotDecryptEndsTheConnectionButAnUndecodableStanzaDoesNot() throws {
        var client = try registered()
        try client.send(plaintext: [0, 0xF8, 0xFF])
        #expect(client.violations.map(\.kind) == [.malformedStanza])
        #expect(!client.isClosed)
        try client.send(bytes: [0, 0, 20] + [UInt8](repeating: 7, count: 20))
        #expect(client.violations.map(\.kind) == [.malformedStanza, .transport])
        #expect(client.isClosed)
    }

    @Test func theSimulatorDropsTheConnectionWhenTheHandshakeStalls() throws {
        var machine = SimConnectionMachine(id: SimConnectionID(1), configuration: TestServerKeys().serverConfiguration)
        let start = machine.handle(.connected(now: Conversation.start))
        guard case .schedule(.handshake, let after) = start.first else {
            Issue.record("no handshake timer")
            return
        }
        #expect(after == .seconds(20))
        let stalled = machine.handle(.timerFired(.handshake, now: Conversation.start))
        guard stalled.count == 2, case .update(.connectionEnded) = stalled[0], case .close = stalled[1] else {
            Issue.record("expected the world told and the close, without a violation; got \(stalled)")
            return
        }
    }

    /// Mutated client stanzas, properly encrypted, against a logged-in simulator connection that has a
    /// message waiting for its answer.
    @Test func mutatedStanzasNeverCrashTheSimulator() throws {
        let conversation = Conversation()
        var connected = try loggedIn(conversation)
        let credentials = connected.credentials
        var random = SeededRandom(seed: 77)
        conversation.world.addContact(SimContact.generate(phoneNumber: "15557000001", using: &random))
        try connected.comeOnline(preKeys: 2)
        _ = try conversation.world.sendText(from: "15557000001", to: "15551234567", text: "x", now: Conversation.start)
        try connected.deliverInbox()
        let message = try IncomingMessage(try #require(connected.messages.last), own: try connected.receivingDevice().own)
        let bundle = try connected.receivingDevice().retryBundle(preKeyID: 9)
        var fetch = PreKeyFetch.query(for: [JID(user: "15557000001", server: .whatsApp), JID(user: "1", device: 2, server: .lid)])
        fetch.attributes["id"] = "f1"
        let corpus = try [
            message.deliveryReceipt(active: false),
            message.envelope.ack(),
            message.retryReceipt(count: 2, bundle: bundle, includeKeys: true),
            fetch,
            Node("iq", ["to": .server, "id": "c1", "type": "get", "xmlns": "encrypt"], [Node("count")]),
            upload(connected, keys: 4, id: "u1"),
            Node("iq", ["to": .server, "id": "p1", "type": "set", "xmlns": "passive"], [Node("active")]),
            Node("iq", ["to": .server, "id": "k1", "type": "get", "xmlns": "w:p"]),
            Node("iq", ["to": .server, "id": "r1", "type": "set", "xmlns": "md"], [
                Node("remove-companion-device", ["jid": .jid(try #require(JID(parsing: credentials.account?.jid ?? ""))), "reason": "user_initiated"]),
            ]),
            companionHello(connected),
            Node("ack", ["class": "notification", "id": "n1", "to": .server, "type": "encrypt"]),
            Node("iq", ["to": .server, "id": "x", "type": "result"], [Node("pair-device-sign", [Node("device-identity", ["key-index": "1"], bytes: [1, 2])])]),
            Node("ib", [Node("unified_session", ["id": "123"])]),
        ].map { try NodeEncoder.encode($0) }
        var client = connected
        for _ in 0..<5_000 {
            if client.isClosed {
                client = connected
            }
            let stanza = corpus[Int.random(in: corpus.indices, using: &random)]
            try client.send(plaintext: SessionClientFuzzTests.mutate(stanza, using: &random))
        }
        #expect(conversation.world.violationCount > 0)
    }
}
