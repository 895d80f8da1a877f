import Foundation
import WAWire

extension SimConnectionMachine {
    /// A registering companion: its keys, the refs it was served, and how far pairing got.
    struct Registration: Sendable {
        let keys: RegistrationKeys
        /// DeviceProps `os`, remembered on the linked device.
        let os: String
        let refs: [String]
        /// The ref on the client's screen; `refs.count` once all expired.
        var refIndex = 0
        var isPairDeviceAcknowledged = false
        /// The ADV secret of the scan that companion_reg_refresh answered; a later scan must bring another.
        var secretBeforeRefresh: [UInt8]?
        var code = CodePairing.idle
        /// pair-success was sent; its reply is awaited.
        var pairing: PendingPairSuccess?
        /// The phone number pairing is for, once known.
        var phoneNumber: String?
    }

    /// The server's side of phone-number pairing (pairing.md §5).
    enum CodePairing: Sendable {
        case idle
        /// companion_hello was answered; waiting for the user to type the code on the phone.
        case waitingForPhone(phoneNumber: String, wrappedEphemeral: [UInt8], ref: [UInt8])
        /// primary_hello was sent; waiting for companion_finish.
        case primaryHelloSent(primary: LinkCodePrimary, ref: [UInt8], account: SimAccount)
    }

    /// A pair-success to send once the world reserved a device number (`Awaiting.pairSuccess`).
    struct PairSuccessDraft: Sendable {
        let account: SimAccount
        let advSecret: [UInt8]
        let companionIdentity: [UInt8]
    }

    /// A valid companion_hello, answered once the world took the code pairing (`Awaiting.codePairing`).
    struct CodePairingOffer: Sendable {
        let stanzaID: String
        let phoneNumber: String
        let wrappedEphemeral: [UInt8]
    }

    /// pair-success on its way: what the reply must countersign and the device it links.
    struct PendingPairSuccess: Sendable {
        let stanzaID: String
        let issued: ADVIssuedIdentity
        let device: SimLinkedDevice
    }

    /// An answer the client owes.
    enum Expectation: Sendable {
        case pairDeviceAck
        case notificationAck(type: String)
        case pairSuccessReply

        var what: String {
            switch self {
            case .pairDeviceAck: "pair-device"
            case .notificationAck(let type): "the \(type) notification"
            case .pairSuccessReply: "pair-success"
            }
        }
    }

    // MARK: Refs

    /// Serves pair-device with fresh refs (pairing.md §3.1) and puts the first one on the phone's reach.
    mutating func startRegistration(_ handshake: ServerHandshake.Completion, keys: RegistrationKeys, os: String, now: Date) -> [Action] {
        let refs = (0..<max(1, configuration.refCount)).map { _ in "2@" + Data(random.bytes(60)).base64EncodedString() }
        state = .connected(Connection(
            transport: handshake.transport, clientStaticKey: handshake.clientStaticKey,
            stage: .registered(Registration(keys: keys, os: os, refs: refs))
        ))
        let stanzaID = nextID()
        let pairDevice = Node("iq", ["from": .server, "type": "set", "id": .string(stanzaID), "xmlns": "md"], [
            Node("pair-device", refs.map { Node("ref", bytes: Array($0.utf8)) }),
        ])
        return [.update(.offerRef(refs[0])), .update(.note(.refsServed(id, count: refs.count)))]
            + send(pairDevice) + expect(.pairDeviceAck, id: stanzaID)
            + [.schedule(.refExpiry, after: configuration.firstRefLifetime)]
    }

    mutating func refExpired(now: Date) -> [Action] {
        guard var registration, registration.pairing == nil, registration.refIndex < registration.refs.count else {
            return []
        }
        let expired = registration.refs[registration.refIndex]
        registration.refIndex += 1
        self.registration = registration
        guard registration.refIndex < registration.refs.count else {
            return [.update(.withdrawRef(expired)), .schedule(.pairingWindowClosed, after: configuration.refExhaustionGrace)]
        }
        return [.update(.withdrawRef(expired)), .update(.offerRef(registration.refs[registration.refIndex])),
                .schedule(.refExpiry, after: configuration.laterRefLifetime)]
    }

    // MARK: QR scan

    /// The phone scanned our current QR: pair-success for the identity it shows (after companion_reg_refresh,
    /// when configured).
    mutating func scanned(_ qr: PairingQR, account: SimAccount, now: Date) -> [Action] {
        guard var registration, registration.pairing == nil,
              registration.refIndex < registration.refs.count, qr.ref == registration.refs[registration.refIndex]
        else {
            return []
        }
        registration.phoneNumber = account.phoneNumber
        self.registration = registration
        guard qr.noisePublicKey == connection?.clientStaticKey else {
            return record(.badSignature, "the QR advertises a noise key other than the handshake's", now: now)
        }
        var actions: [Action] = []
        if qr.identityPublicKey != registration.keys.identityKey {
            // The phone signs what the QR shows; the client will then refuse the account signature.
            actions += record(.badSignature, "the QR advertises an identity key other than the registration's", now: now)
        }
        if configuration.refreshRegistrationOnScan {
            guard let previous = registration.secretBeforeRefresh else {
                registration.secretBeforeRefresh = qr.advSecret
                self.registration = registration
                let notificationID = nextID()
                let refresh = Node("notification", [
                    "from": .server, "type": "companion_reg_refresh", "id": .string(notificationID), "t": .string(Self.unix(now)),
                ], [Node("companion_reg_refresh")])
                return actions + send(refresh) + expect(.notificationAck(type: "companion_reg_refresh"), id: notificationID)
            }
            guard qr.advSecret != previous else {
                // The phone reports that linking failed; no pair-success ever comes (pairing.md §10).
                return actions + record(.wrongOrder, "the QR still advertises the ADV secret from before companion_reg_refresh", now: now)
            }
        }
        return actions + sendPairSuccess(PairSuccessDraft(account: account, advSecret: qr.advSecret, companionIdentity: qr.identityPublicKey))
    }

    /// pair-success on behalf of the phone (pairing.md §4.1), once the world reserved a device number.
    mutating func sendPairSuccess(_ draft: PairSuccessDraft) -> [Action] {
        guard registration != nil, draft.account.identity != nil else {
            return []
        }
        return ask(.reserveDevice(phoneNumber: draft.account.phoneNumber), then: .pairSuccess(draft))
    }

    mutating func reservationAnswered(_ draft: PairSuccessDraft, reservation: SimWorld.Reservation?, now: Date) -> [Action] {
        let account = draft.account
        guard var registration, let identity = account.identity, let reservation, let clientStaticKey = connection?.clientStaticKey else {
            return []
        }
        let issued: ADVIssuedIdentity
        do {
            issued = try ADVIssuedIdentity.issue(
                rawID: account.rawID, timestamp: Self.unixSeconds(now), keyIndex: reservation.keyIndex, hosted: false,
                account: identity, companionIdentityPublicKey: draft.companionIdentity, advSecret: draft.advSecret, using: &random
            )
        } catch {
            return []
        }
        let device = SimLinkedDevice(
            phoneNumber: account.phoneNumber, deviceID: reservation.deviceID, lidUser: account.lidUser,
            noisePublicKey: clientStaticKey, identityPublicKey: registration.keys.identityKey,
            registrationID: registration.keys.registrationID, keyIndex: reservation.keyIndex, linkedAt: now, os: registration.os,
            // The registration payload's signed prekey, whose signature the payload parser verified: senders can
            // start sessions with the device before its first upload.
            signedPreKey: SimSignedPreKey(
                id: registration.keys.signedPreKeyID, publicKey: registration.keys.signedPreKey,
                signature: registration.keys.signedPreKeySignature
            )
        )
        var children = [
            Node("device-identity", bytes: issued.deviceIdentity),
            Node("platform", ["name": .string(account.platform)]),
            Node("device", ["jid": .jid(device.jid), "lid": .jid(device.lid)]),
        ]
        if let businessName = account.businessName {
            children.append(Node("biz", ["name": .string(businessName)]))
        }
        let stanzaID = nextID()
        let success = Node("iq", ["from": .server, "type": "set", "id": .string(stanzaID), "t": .string(Self.unix(now))], [
            Node("pair-success", children),
        ])
        registration.phoneNumber = account.phoneNumber
        registration.pairing = PendingPairSuccess(stanzaID: stanzaID, issued: issued, device: device)
        self.registration = registration
        return registration.refs.map { .update(.withdrawRef($0)) }
            + [.update(.withdrawCodePairing(phoneNumber: account.phoneNumber)), .cancel(.refExpiry), .cancel(.pairingWindowClosed)]
            + send(success) + expect(.pairSuccessReply, id: stanzaID)
    }

    /// The client's answer to pair-success: a valid pair-device-sign links the device, then 515 and close.
    mutating func pairSuccessAnswered(_ node: Node, now: Date) -> [Action] {
        guard var registration, let pairing = registration.pairing else {
            return []
        }
        registration.pairing = nil
        self.registration = registration
        guard node.attribute("type") == "result" else {
            // The client refused (a bad HMAC or signature, or it could not persist): whatsmeow's error reply.
            let error = node.child("error")
            if error?.attribute("code").flatMap({ Int($0) }) == nil || error?.attribute("text") == nil {
                return record(.malformedStanza, "pair-success refused without <error code text>", now: now)
            }
            return []
        }
        guard let identity = node.child("pair-device-sign")?.child("device-identity"), let reply = identity.bytes else {
            return violationAndClose(.malformedStanza, "pair-success answered without pair-device-sign/device-identity", now: now)
        }
        guard identity.attribute("key-index") == String(pairing.issued.keyIndex) else {
            return violationAndClose(.malformedStanza, "pair-device-sign has the wrong key-index", now: now)
        }
        do {
            _ = try pairing.issued.verifyReply(reply)
        } catch {
            return violationAndClose(.badSignature, "pair-device-sign refused (\(error.code))", now: now)
        }
        device = pairing.device.jid
        return [.update(.link(pairing.device))] + send(SimStreamError.restartRequired.node) + close()
    }

    // MARK: Code pairing

    /// `<link_code_companion_reg>` IQs: companion_hello and companion_finish.
    mutating func linkCodeRequest(_ node: Node, registration request: Node, stanzaID: String, now: Date) -> [Action] {
        guard var registration else {
            return record(.wrongOrder, "link_code_companion_reg outside a registration", now: now)
                + errorAnswer(stanzaID, 400, "bad-request")
        }
        switch request.attribute("stage") {
        case "companion_hello":
            guard registration.isPairDeviceAcknowledged else {
                return record(.wrongOrder, "companion_hello before pair-device was acknowledged", now: now)
                    + errorAnswer(stanzaID, 400, "bad-request")
            }
            guard case .idle = registration.code, registration.pairing == nil else {
                return record(.wrongOrder, "a second companion_hello", now: now)
                    + errorAnswer(stanzaID, 400, "bad-request")
            }
            guard let phoneNumber = Self.phoneNumber(request),
                  let wrapped = request.child("link_code_pairing_wrapped_companion_ephemeral_pub")?.bytes,
                  wrapped.count == LinkCodeWrappedKey.byteCount,
                  let authKey = request.child("companion_server_auth_key_pub")?.bytes,
                  let platform = Self.text(request.child("companion_platform_id")), PairingPlatform(rawValue: platform) != nil,
                  let display = Self.text(request.child("companion_platform_display")), !display.isEmpty,
                  let nonce = request.child("link_code_pairing_nonce"), nonce.bytes == [0] || Self.text(nonce) == "0"
            else {
                return record(.malformedStanza, "companion_hello lacks or garbles a required part", now: now)
                    + errorAnswer(stanzaID, 400, "bad-request")
            }
            guard authKey == connection?.clientStaticKey else {
                return record(.badSignature, "companion_hello's server auth key is not the handshake's noise key", now: now)
                    + errorAnswer(stanzaID, 400, "bad-request")
            }
            let offer = CodePairingOffer(stanzaID: stanzaID, phoneNumber: phoneNumber, wrappedEphemeral: wrapped)
            return ask(.offerCodePairing(phoneNumber: phoneNumber), then: .codePairing(offer))
        case "companion_finish":
            guard case .primaryHelloSent(let primary, let ref, let account) = registration.code else {
                return record(.wrongOrder, "companion_finish before primary_hello", now: now)
                    + errorAnswer(stanzaID, 400, "bad-request")
            }
            guard let bundle = request.child("link_code_pairing_wrapped_key_bundle")?.bytes,
                  let companionIdentity = request.child("companion_identity_public")?.bytes,
                  request.child("link_code_pairing_ref")?.bytes == ref, let identity = account.identity
            else {
                return record(.malformedStanza, "companion_finish lacks or garbles a required part", now: now)
                    + errorAnswer(stanzaID, 400, "bad-request")
            }
            guard companionIdentity == registration.keys.identityKey else {
                return record(.badSignature, "companion_finish's identity key is not the registration's", now: now)
                    + errorAnswer(stanzaID, 400, "bad-request")
            }
            registration.code = .idle
            self.registration = registration
            let advSecret: [UInt8]
            do {
                advSecret = try primary.finish(wrappedKeyBundle: bundle, companionIdentityPublicKey: companionIdentity, identity: identity)
            } catch {
                // A mistyped code lands here: the phone tells its user, the companion gets an error.
                return [.update(.withdrawCodePairing(phoneNumber: account.phoneNumber))] + errorAnswer(stanzaID, 400, "bad-request")
            }
            let answer = send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID)]))
            return answer + sendPairSuccess(PairSuccessDraft(account: account, advSecret: advSecret, companionIdentity: companionIdentity))
        default:
            return record(.malformedStanza, "link_code_companion_reg with an unknown stage", now: now)
                + errorAnswer(stanzaID, 400, "bad-request")
        }
    }

    /// The world took the code pairing (or has no such account): the ref for companion_hello, or 404.
    mutating func codePairingAnswered(_ offer: CodePairingOffer, offered: Bool) -> [Action] {
        guard offered, var registration else {
            return errorAnswer(offer.stanzaID, 404, "item-not-found")
        }
        let ref = Array(("2@" + Data(random.bytes(30)).base64EncodedString()).utf8)
        registration.phoneNumber = offer.phoneNumber
        registration.code = .waitingForPhone(phoneNumber: offer.phoneNumber, wrappedEphemeral: offer.wrappedEphemeral, ref: ref)
        self.registration = registration
        return send(Node("iq", ["from": .server, "type": "result", "id": .string(offer.stanzaID)], [
            Node("link_code_companion_reg", [Node("link_code_pairing_ref", bytes: ref)]),
        ]))
    }

    /// The user typed `code` on the phone: unwrap the companion's key with it and send primary_hello.
    mutating func codeEntered(_ code: LinkCode, account: SimAccount, now: Date) -> [Action] {
        guard var registration,
              case .waitingForPhone(let phoneNumber, let wrapped, let ref) = registration.code,
              phoneNumber == account.phoneNumber, let identity = account.identity
        else {
            return []
        }
        let primary: LinkCodePrimary
        do {
            primary = try LinkCodePrimary.accept(wrappedCompanionEphemeral: wrapped, code: code, using: &random)
        } catch {
            return []
        }
        registration.code = .primaryHelloSent(primary: primary, ref: ref, account: account)
        self.registration = registration
        let notificationID = nextID()
        let hello = Node("notification", [
            "from": .server, "type": "link_code_companion_reg", "id": .string(notificationID), "t": .string(Self.unix(now)),
        ], [
            Node("link_code_companion_reg", ["stage": "primary_hello"], [
                Node("link_code_pairing_ref", bytes: ref),
                Node("link_code_pairing_wrapped_primary_ephemeral_pub", bytes: primary.wrappedEphemeral.bytes),
                Node("primary_identity_pub", bytes: identity.publicKey),
            ]),
        ])
        return send(hello) + expect(.notificationAck(type: "link_code_companion_reg"), id: notificationID)
    }

    /// The phone number of a `jid` attribute (JID-typed as whatsmeow sends it, or text).
    static func phoneNumber(_ node: Node) -> String? {
        let jid = node.jidAttribute("jid") ?? node.attribute("jid").flatMap { JID(parsing: $0) }
        guard let jid, jid.server == .whatsApp, !jid.user.isEmpty,
              jid.user.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else {
            return nil
        }
        return jid.user
    }

    /// String content, whether it came as a token or as bytes.
    static func text(_ node: Node?) -> String? {
        guard let node else {
            return nil
        }
        return node.text ?? node.bytes.map { String(decoding: $0, as: UTF8.self) }
    }
}
