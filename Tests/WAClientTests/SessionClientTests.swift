import Crypto
import Foundation
import Testing
@testable import WAClient
import WAWire

@Suite("Client session machine")
struct SessionClientTests {
    private func registering(_ method: PairingMethod = .qr, seed: UInt64 = 1) throws -> ScriptedSession {
        var random = SeededRandom(seed: seed)
        return try ScriptedSession(intent: .pair(method), credentials: DeviceCredentials.generate(using: &random), seed: seed)
    }

    @Test func theHandshakeSendsARegistrationOrALoginPayload() throws {
        let registration = try registering()
        guard case .registration(let keys, let buildHash, let props) = registration.server.payload?.kind else {
            Issue.record("no registration payload")
            return
        }
        #expect(keys.registrationID == registration.machine.credentials.registrationID)
        #expect(buildHash == WebClientVersion.pinned.buildHash)
        #expect(props.os == "Pairgate")
        #expect(registration.machine.phase == .pairing)

        let login = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        guard case .login(let username, let device) = login.server.payload?.kind else {
            Issue.record("no login payload")
            return
        }
        #expect(username == 15_551_234_567)
        #expect(device == 3)
        #expect(login.machine.phase == .loggingIn)
        #expect(login.timers[.keepalive] != nil)
        #expect(login.timers[.handshake] == nil)
    }

    @Test func pairDeviceIsAcknowledgedBeforeTheFirstQRIsShown() throws {
        var session = try registering()
        try session.receive(ServerStanzas.pairDevice(id: "77"))
        let ack = try #require(session.sent.first)
        #expect(ack.tag == "iq")
        #expect(ack.attribute("id") == "77")
        #expect(ack.attribute("type") == "result")
        #expect(ack.attribute("to") == "s.whatsapp.net")
        #expect(ack.children.isEmpty)
        #expect(session.eventNames == ["qr"])
        #expect(session.timers[.qrRotation] == session.now.addingTimeInterval(60))
    }

    @Test func refsThatAreNotBinaryOrNotPrintableAreSkipped() throws {
        var session = try registering()
        let pairDevice = Node("iq", ["from": .server, "type": "set", "id": "5", "xmlns": "md"], [
            Node("pair-device", [
                // Digits go out nibble-packed and decode as text, never as the binary a ref must be.
                Node("ref", content: .string("12345")),
                Node("ref", bytes: Array("has,comma".utf8)),
                Node("ref", bytes: Array("2@good".utf8)),
            ]),
        ])
        try session.receive(pairDevice)
        let qr = try PairingQR.parse(try #require(session.events.first.flatMap { if case .qr(let code, _) = $0 { code } else { nil } }))
        #expect(qr.ref == "2@good")
        try session.fire(.qrRotation)
        #expect(session.closeReason?.category == .pairingTimeout)
    }

    @Test func aPairDeviceWithoutUsableRefsIsAViolation() throws {
        var session = try registering()
        try session.receive(ServerStanzas.pairDevice(refs: 0))
        #expect(session.closeReason?.stage == .pairing)
        #expect(session.closeReason?.category == .protocolViolation)
    }

    @Test func aRefreshBeforePairDeviceReplacesTheSecretAndIsAcked() throws {
        var session = try registering()
        let before = session.machine.credentials.advSecret
        try session.receive(Node("notification", ["from": .server, "type": "companion_reg_refresh", "id": "n1"], [
            Node("pair-device-rotate-qr"),
        ]))
        #expect(session.machine.credentials.advSecret != before)
        let ack = try #require(session.sent.last)
        #expect(ack.tag == "ack")
        #expect(ack.attribute("class") == "notification")
        #expect(ack.attribute("type") == "companion_reg_refresh")
        #expect(ack.attribute("id") == "n1")
    }

    @Test func aRefreshWithoutItsChildIsIgnored() throws {
        var session = try registering()
        try session.receive(ServerStanzas.pairDevice())
        let secret = session.machine.credentials.advSecret
        try session.receive(Node("notification", ["from": .server, "type": "companion_reg_refresh", "id": "n1"]))
        #expect(session.machine.credentials.advSecret == secret)
        #expect(session.sent.count == 1)
        #expect(session.eventNames == ["qr"])
    }

    @Test func aRefreshDuringCodeStageTwoIsDeferredSoPairSuccessStillVerifies() throws {
        var session = try registering(.code(phoneNumber: "15551234567"))
        try session.receive(ServerStanzas.pairDevice())
        let hello = try #require(session.lastIQ(xmlns: "md"))
        let request = try #require(hello.child("link_code_companion_reg"))
        #expect(request.attribute("stage") == "companion_hello")
        #expect(request.jidAttribute("jid") == JID(user: "15551234567", server: .whatsApp))
        #expect(request.child("link_code_pairing_nonce")?.bytes == [0])
        #expect(Self.text(request.child("companion_platform_id")) == "1")
        #expect(Self.text(request.child("companion_platform_display")) == "Chrome (Linux)")
        let wrapped = try #require(request.child("link_code_pairing_wrapped_companion_ephemeral_pub")?.bytes)

        let ref = Array("2@coderef".utf8)
        try session.receive(ServerStanzas.result(id: try #require(hello.attribute("id")), [
            Node("link_code_companion_reg", [Node("link_code_pairing_ref", bytes: ref)]),
        ]))
        guard case .pairingCode(let display, _) = try #require(session.events.last) else {
            Issue.record("no pairing code: \(session.eventNames)")
            return
        }

        var random = SeededRandom(seed: 99)
        let phone = Curve25519KeyPair.generate(using: &random)
        let primary = try LinkCodePrimary.accept(wrappedCompanionEphemeral: wrapped, code: try LinkCode(parsing: display), using: &random)
        try session.receive(Node("notification", ["from": .server, "type": "link_code_companion_reg", "id": "ph"], [
            Node("link_code_companion_reg", ["stage": "primary_hello"], [
                Node("link_code_pairing_ref", bytes: ref),
                Node("link_code_pairing_wrapped_primary_ephemeral_pub", bytes: primary.wrappedEphemeral.bytes),
                Node("primary_identity_pub", bytes: phone.publicKey),
            ]),
        ]))
        let finish = try #require(session.lastIQ(xmlns: "md")?.child("link_code_companion_reg"))
        #expect(finish.attribute("stage") == "companion_finish")
        let identity = try Curve25519KeyPair(privateKey: session.machine.credentials.identityKey)
        let derived = try primary.finish(
            wrappedKeyBundle: try #require(finish.child("link_code_pairing_wrapped_key_bundle")?.bytes),
            companionIdentityPublicKey: identity.publicKey, identity: phone
        )
        #expect(session.machine.credentials.advSecret == derived)

        try session.receive(Node("notification", ["from": .server, "type": "companion_reg_refresh", "id": "rr"], [
            Node("companion_reg_refresh"),
        ]))
        #expect(session.machine.credentials.advSecret == derived)
        #expect(session.sent.last?.tag == "ack")

        let issued = try ADVIssuedIdentity.issue(
            rawID: 1, timestamp: 1_760_000_000, keyIndex: 2, hosted: false, account: phone,
            companionIdentityPublicKey: identity.publicKey, advSecret: derived, using: &random
        )
        try session.receive(pairSuccess(issued))
        #expect(session.confirmations.count == 1)
        #expect(session.closeReason == nil)
    }

    /// String content as the decoder gives it back: a token or packed form as text, anything else as bytes.
    private static func text(_ node: Node?) -> String? {
        node?.text ?? node?.bytes.map { String(decoding: $0, as: UTF8.self) }
    }

    private func pairSuccess(_ issued: ADVIssuedIdentity, id: String = "ps") -> Node {
        Node("iq", ["from": .server, "type": "set", "id": .string(id), "t": "1760000050"], [
            Node("pair-success", [
                Node("device-identity", bytes: issued.deviceIdentity),
                Node("platform", ["name": "smba"]),
                Node("device", ["jid": .jid(JID(user: "15551234567", device: 9, server: .whatsApp)),
                                "lid": .jid(JID(user: "4242", device: 9, server: .lid))]),
            ]),
        ])
    }

    @Test func anAcceptedPairingRepliesWithTheCountersignatureThenUnifiedSession() throws {
        var session = try registering()
        try session.receive(ServerStanzas.pairDevice())
        var random = SeededRandom(seed: 5)
        let phone = Curve25519KeyPair.generate(using: &random)
        let identity = try Curve25519KeyPair(privateKey: session.machine.credentials.identityKey)
        let issued = try ADVIssuedIdentity.issue(
            rawID: 1, timestamp: 1_760_000_000, keyIndex: 6, hosted: false, account: phone,
            companionIdentityPublicKey: identity.publicKey, advSecret: session.machine.credentials.advSecret, using: &random
        )
        try session.receive(pairSuccess(issued))
        let credentials = try #require(session.confirmations.first)
        #expect(credentials.account?.jid == "15551234567:9@s.whatsapp.net")
        #expect(credentials.account?.lid == "4242:9@lid")
        #expect(credentials.account?.platform == "smba")
        #expect(credentials.account?.keyIndex == 6)
        #expect(session.timers[.qrRotation] == nil)
        // About 50 s ahead of our clock, from pair-success's t.
        #expect(abs(session.machine.serverTimeOffset.seconds - 50) < 1)

        try session.input(.pairingConfirmed(.accepted, now: session.now))
        let reply = try #require(session.sent.dropLast().last)
        #expect(reply.attribute("type") == "result")
        #expect(reply.attribute("id") == "ps")
        let signed = try #require(reply.child("pair-device-sign")?.child("device-identity"))
        #expect(signed.attribute("key-index") == "6")
        #expect(try issued.verifyReply(try #require(signed.bytes)).count == 64)

        let unified = try #require(session.sent.last?.child("unified_session")?.attribute("id").flatMap { Int64($0) })
        #expect((0..<(7 * 24 * 3600 * 1000)).contains(unified))
        #expect(session.eventNames.suffix(1) == ["paired"])

        // Anything pairing-related after the reply is ignored: the server's 515 comes next.
        try session.input(.pairingConfirmed(.accepted, now: session.now))
        try session.receive(ServerStanzas.pairDevice())
        #expect(session.eventNames.filter { $0 == "qr" }.count == 1)
        try session.receive(Node("stream:error", ["code": "515"]))
        #expect(session.closeReason?.category == .restartRequired)
    }

    /// The `<error>` of the client's answer to pair-success `id`.
    private func errorReply(_ session: ScriptedSession, id: String = "ps") -> (code: String?, text: String?)? {
        guard let reply = session.sent.last(where: { $0.attribute("id") == id && $0.attribute("type") == "error" }),
              let error = reply.child("error")
        else {
            return nil
        }
        return (error.attribute("code"), error.attribute("text"))
    }

    /// A registration that received pair-device, and a phone identity issued for `advSecret` and `identity`.
    private func issued(_ session: inout ScriptedSession, advSecret: [UInt8]? = nil, companion: [UInt8]? = nil) throws -> ADVIssuedIdentity {
        try session.receive(ServerStanzas.pairDevice())
        var random = SeededRandom(seed: 5)
        let identity = try Curve25519KeyPair(privateKey: session.machine.credentials.identityKey)
        return try ADVIssuedIdentity.issue(
            rawID: 1, timestamp: 1_760_000_000, keyIndex: 6, hosted: false, account: Curve25519KeyPair.generate(using: &random),
            companionIdentityPublicKey: companion ?? identity.publicKey,
            advSecret: advSecret ?? session.machine.credentials.advSecret, using: &random
        )
    }

    @Test func aBadHMACIsAnswered401HmacMismatch() throws {
        var session = try registering()
        try session.receive(pairSuccess(try issued(&session, advSecret: [UInt8](repeating: 1, count: 32))))
        #expect(errorReply(session)?.code == "401")
        #expect(errorReply(session)?.text == "hmac-mismatch")
        #expect(session.closeReason?.category == .pairingFailed)
        #expect(session.confirmations.isEmpty)
    }

    @Test func aBadAccountSignatureIsAnswered401SignatureMismatch() throws {
        var session = try registering()
        try session.receive(pairSuccess(try issued(&session, companion: [UInt8](repeating: 9, count: 32))))
        #expect(errorReply(session)?.code == "401")
        #expect(errorReply(session)?.text == "signature-mismatch")
        #expect(session.closeReason?.category == .pairingFailed)
    }

    @Test func aPairSuccessWithoutItsPartsIsAnswered500() throws {
        var session = try registering()
        try session.receive(ServerStanzas.pairDevice())
        try session.receive(Node("iq", ["from": .server, "type": "set", "id": "ps"], [Node("pair-success", [Node("platform", ["name": "android"])])]))
        #expect(errorReply(session)?.code == "500")
        #expect(errorReply(session)?.text == "internal-error")
        #expect(session.closeReason?.category == .pairingFailed)
    }

    @Test func aRejectedPersistenceIsAnswered500() throws {
        var session = try registering()
        try session.receive(pairSuccess(try issued(&session)))
        #expect(session.confirmations.count == 1)
        try session.input(.pairingConfirmed(.rejected(detail: "database down"), now: session.now))
        #expect(errorReply(session)?.code == "500")
        #expect(errorReply(session)?.text == "internal-error")
        #expect(session.closeReason?.category == .pairingFailed)
        #expect(session.closeReason?.detail.contains("database down") == true)
        #expect(!session.eventNames.contains("paired"))
    }

    @Test func serverPingsAreAnswered() throws {
        var session = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        try session.receive(Node("iq", ["from": .server, "type": "get", "xmlns": "urn:xmpp:ping", "id": "p1"]))
        let answer = try #require(session.sent.last)
        #expect(answer.attribute("type") == "result")
        #expect(answer.attribute("id") == "p1")
        #expect(answer.attribute("to") == "s.whatsapp.net")
    }

    @Test func otherNotificationsAreAckedWithTheirType() throws {
        var session = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        try session.receive(Node("notification", ["from": .server, "type": "server_sync", "id": "d1"]))
        #expect(session.sent.last?.tag == "ack")
        #expect(session.sent.last?.attribute("type") == "server_sync")
    }

    @Test func theFirstUploadCarries812KeysDerivedFromTheSeedAndTheSignedPreKey() throws {
        var session = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        try session.receive(ServerStanzas.pairDevice())
        #expect(session.sent.isEmpty)
        try session.receive(Node("success", ["t": "1760000000", "lid": .jid(JID(user: "777", device: 3, server: .lid))]))
        let count = try #require(session.lastIQ(xmlns: "encrypt"))
        #expect(count.child("count") != nil)
        #expect(count.attribute("type") == "get")
        try session.receive(ServerStanzas.result(id: try #require(count.attribute("id")), [Node("count", ["value": "0"])]))

        let upload = try #require(session.lastIQ(xmlns: "encrypt"))
        let credentials = session.machine.credentials
        let identity = try Curve25519KeyPair(privateKey: credentials.identityKey)
        #expect(upload.attribute("type") == "set")
        #expect(upload.child("registration")?.bytes == ClientSessionMachine.bigEndian(credentials.registrationID, count: 4))
        #expect(upload.child("type")?.bytes == [5])
        #expect(upload.child("identity")?.bytes == identity.publicKey)
        let keys = try #require(upload.child("list")?.children)
        #expect(keys.count == 812)
        #expect(keys.first?.child("id")?.bytes == [0, 0, 1])
        #expect(keys.last?.child("id")?.bytes == [0, 3, 0x2C])
        #expect(keys[99].child("value")?.bytes == (try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: 100)).publicKey)
        let signedPreKey = try #require(upload.child("skey"))
        let value = try #require(signedPreKey.child("value")?.bytes)
        #expect(CurveSignature.isValid(
            try #require(signedPreKey.child("signature")?.bytes), for: [5] + value, publicKey: identity.publicKey
        ))

        try session.receive(ServerStanzas.result(id: try #require(upload.attribute("id"))))
        let passive = try #require(session.lastIQ(xmlns: "passive"))
        #expect(passive.child("active") != nil)
        try session.receive(ServerStanzas.result(id: try #require(passive.attribute("id"))))
        #expect(session.eventNames == ["credentialsUpdated", "online"])
        #expect(session.machine.credentials.nextPreKeyID == 813)
        #expect(session.machine.credentials.account?.lid == "777:3@lid")
    }

    @Test func aFailedCountQueryOrUploadStillComesOnline() throws {
        var session = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        try session.receive(Node("success", ["t": "1760000000"]))
        try session.fire(.request(try #require(session.lastIQ(xmlns: "encrypt")?.attribute("id"))))
        let passive = try #require(session.lastIQ(xmlns: "passive"))
        try session.receive(Node("iq", ["from": .server, "type": "error", "id": .string(passive.attribute("id") ?? "")]))
        #expect(session.eventNames == ["online"])
        #expect(session.machine.credentials.nextPreKeyID == 1)
    }

    @Test func aFailureDuringRegistrationIsClassifiedToo() throws {
        var session = try registering()
        try session.receive(Node("failure", ["reason": "405"]))
        #expect(session.closeReason?.category == .clientOutdated)
        #expect(session.closeReason?.detail.contains(WebClientVersion.pinned.description) == true)
    }

    @Test func stanzasOfTheOtherPathAreIgnored() throws {
        var registration = try registering()
        try registration.receive(Node("success", ["t": "1760000000"]))
        #expect(registration.sent.isEmpty)
        #expect(registration.machine.phase == .pairing)

        var login = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        let credentials = login.machine.credentials
        try login.receive(ServerStanzas.corpus[1])
        try login.receive(Node("notification", ["from": .server, "type": "companion_reg_refresh", "id": "x"], [Node("companion_reg_refresh")]))
        #expect(login.confirmations.isEmpty)
        #expect(login.machine.phase == .loggingIn)
        #expect(login.machine.credentials == credentials)
    }

    @Test func framesMayBeSplitOrSharedAcrossMessages() throws {
        var session = try registering()
        var bytes = try session.server.frame(ServerStanzas.pairDevice(id: "a"))
        bytes += try session.server.frame(Node("iq", ["from": .server, "type": "get", "xmlns": "w:p", "id": "b"]))
        for byte in bytes {
            try session.receive(bytes: [byte])
        }
        #expect(session.sent.map { $0.attribute("id") } == ["a", "b"])
        #expect(session.eventNames == ["qr"])
    }

    @Test func aCompressedStanzaIsRead() throws {
        var session = try registering()
        let plaintext = try FramePayload.compressed(try NodeEncoder.encode(ServerStanzas.pairDevice()))
        try session.receive(bytes: try session.server.frame(plaintext: plaintext))
        #expect(session.eventNames == ["qr"])
    }

    @Test func anUndecodableStanzaIsDroppedAndTheConnectionStays() throws {
        var session = try registering()
        try session.receive(bytes: try session.server.frame(plaintext: [0, 0xF8, 0xFF, 0x01]))
        #expect(!session.isClosed)
        try session.receive(ServerStanzas.pairDevice())
        #expect(session.eventNames == ["qr"])
    }

    @Test func garbageInsteadOfServerHelloEndsTheHandshake() throws {
        var random = SeededRandom(seed: 4)
        var machine = ClientSessionMachine(
            credentials: DeviceCredentials.generate(using: &random), intent: .pair(.qr),
            configuration: TestServerKeys().clientConfiguration()
        )
        let start = machine.handle(.connected(now: Conversation.start))
        guard case .write(let hello) = start.first else {
            Issue.record("no ClientHello")
            return
        }
        #expect(hello.starts(with: [0x57, 0x41, 0x06, 0x03]))
        let actions = machine.handle(.received([0, 0, 3, 1, 2, 3], now: Conversation.start))
        guard case .close(let reason) = actions.last else {
            Issue.record("no close")
            return
        }
        #expect(reason.stage == .noise)
        #expect(reason.category == .protocolViolation)
        #expect(machine.phase == .closed)
        #expect(machine.handle(.received([1, 2, 3], now: Conversation.start)).isEmpty)
        guard case .complete(_, .failure(let error)) = machine.handle(.request(ClientRequestID(1), .logout)).first else {
            Issue.record("no answer")
            return
        }
        #expect(error.code == .connectionClosed)
    }

    @Test func requestsBeforeTheHandshakeAreRefusedAndResponsesToUnknownIDsIgnored() throws {
        var machine = ClientSessionMachine(credentials: ScriptedSession.pairedCredentials(), intent: .login)
        guard case .complete(_, .failure(let error)) = machine.handle(.request(ClientRequestID(1), .iq(Node("iq"), timeout: nil))).first else {
            Issue.record("no answer")
            return
        }
        #expect(error.code == .notConnected)

        var session = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        try session.receive(ServerStanzas.result(id: "never-sent"))
        #expect(!session.isClosed)
        #expect(session.sent.isEmpty)
    }

    @Test func anAPIRequestThatIsNotAnIQIsInvalid() throws {
        var session = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        try session.input(.request(ClientRequestID(4), .iq(Node("presence"), timeout: nil)))
        #expect(session.completions[ClientRequestID(4)] == .failure(ClientRequestError(.invalidRequest)))
        #expect(session.sent.isEmpty)
    }

    @Test func requestIDsAreUniqueWithinAConnection() throws {
        var session = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        for index in 0..<50 {
            try session.input(.request(ClientRequestID(UInt64(index)), .iq(Node("iq", ["xmlns": "x", "type": "get"]), timeout: nil)))
        }
        let ids = session.sent.compactMap { $0.attribute("id") }
        #expect(Set(ids).count == 50)
        #expect(ids.allSatisfy { $0.contains("-") })
    }
}
