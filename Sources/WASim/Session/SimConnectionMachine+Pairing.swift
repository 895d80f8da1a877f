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
    mutating func startRegistration(keys: RegistrationKeys, os: String, now: Date) -> [Action] {
        phase = .registered
        let refs = (0..<max(1, configuration.refCount)).map { _ in "2@" + Data(randomBytes(60)).base64EncodedString() }
        registration = Registration(keys: keys, os: os, refs: refs)
        let stanzaID = nextID()
        let pairDevice = Node("iq", ["from": .server, "type": "set", "id": .string(stanzaID), "xmlns": "md"], [
            Node("pair-device", refs.map { Node("ref", bytes: Array($0.utf8)) }),
        ])
        world.offerRef(refs[0], connection: id)
        world.note(.refsServed(id, count: refs.count))
        return send(pairDevice) + expect(.pairDeviceAck, id: stanzaID)
            + [.schedule(.refExpiry, after: configuration.firstRefLifetime)]
    }

    mutating func refExpired(now: Date) -> [Action] {
        guard phase == .registered, var registration, registration.pairing == nil,
              registration.refIndex < registration.refs.count
        else {
            return []
        }
        world.withdrawRef(registration.refs[registration.refIndex])
        registration.refIndex += 1
        self.registration = registration
        guard registration.refIndex < registration.refs.count else {
            return [.schedule(.pairingWindowClosed, after: configuration.refExhaustionGrace)]
        }
        world.offerRef(registration.refs[registration.refIndex], connection: id)
        return [.schedule(.refExpiry, after: configuration.laterRefLifetime)]
    }

    // MARK: QR scan

    /// The phone scanned our current QR: pair-success for the identity it shows (after companion_reg_refresh,
    /// when configured).
    mutating func scanned(_ qr: PairingQR, account: SimAccount, now: Date) -> [Action] {
        guard phase == .registered, var registration, registration.pairing == nil,
              registration.refIndex < registration.refs.count, qr.ref == registration.refs[registration.refIndex]
        else {
            return []
        }
        registration.phoneNumber = account.phoneNumber
        self.registration = registration
        guard qr.noisePublicKey == clientStaticKey else {
            record(.badSignature, "the QR advertises a noise key other than the handshake's", now: now)
            return []
        }
        if qr.identityPublicKey != registration.keys.identityKey {
            // The phone signs what the QR shows; the client will then refuse the account signature.
            record(.badSignature, "the QR advertises an identity key other than the registration's", now: now)
        }
        if configuration.refreshRegistrationOnScan {
            guard let previous = registration.secretBeforeRefresh else {
                registration.secretBeforeRefresh = qr.advSecret
                self.registration = registration
                let notificationID = nextID()
                let refresh = Node("notification", [
                    "from": .server, "type": "companion_reg_refresh", "id": .string(notificationID), "t": .string(Self.unix(now)),
                ], [Node("companion_reg_refresh")])
                return send(refresh) + expect(.notificationAck(type: "companion_reg_refresh"), id: notificationID)
            }
            guard qr.advSecret != previous else {
                // The phone reports that linking failed; no pair-success ever comes (pairing.md §10).
                record(.wrongOrder, "the QR still advertises the ADV secret from before companion_reg_refresh", now: now)
                return []
            }
        }
        return sendPairSuccess(
            account: account, advSecret: qr.advSecret, companionIdentity: qr.identityPublicKey, now: now
        )
    }

    /// pair-success on behalf of the phone (pairing.md §4.1), with a freshly reserved device number.
    mutating func sendPairSuccess(
        account: SimAccount, advSecret: [UInt8], companionIdentity: [UInt8], now: Date
    ) -> [Action] {
        guard var registration, let identity = account.identity,
              let reserved = world.reserveDevice(phoneNumber: account.phoneNumber)
        else {
            return []
        }
        let issued: ADVIssuedIdentity
        do {
            issued = try ADVIssuedIdentity.issue(
                rawID: account.rawID, timestamp: Self.unixSeconds(now), keyIndex: reserved.keyIndex, hosted: false,
                account: identity, companionIdentityPublicKey: companionIdentity, advSecret: advSecret, using: &random
            )
        } catch {
            return []
        }
        let device = SimLinkedDevice(
            phoneNumber: account.phoneNumber, deviceID: reserved.deviceID, lidUser: account.lidUser,
            noisePublicKey: clientStaticKey, identityPublicKey: registration.keys.identityKey,
            registrationID: registration.keys.registrationID, keyIndex: reserved.keyIndex, linkedAt: now, os: registration.os
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
        for ref in registration.refs {
            world.withdrawRef(ref)
        }
        world.withdrawCodePairing(phoneNumber: account.phoneNumber, connection: id)
        registration.phoneNumber = account.phoneNumber
        registration.pairing = PendingPairSuccess(stanzaID: stanzaID, issued: issued, device: device)
        self.registration = registration
        return [.cancel(.refExpiry), .cancel(.pairingWindowClosed)] + send(success)
            + expect(.pairSuccessReply, id: stanzaID)
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
                record(.malformedStanza, "pair-success refused without <error code text>", now: now)
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
        world.link(pairing.device, connection: id)
        device = pairing.device.jid
        return send(SimStreamError.restartRequired.node) + close()
    }

    // MARK: Code pairing

    /// `<link_code_companion_reg>` IQs: companion_hello and companion_finish.
    mutating func linkCodeRequest(_ node: Node, registration request: Node, stanzaID: String, now: Date) -> [Action] {
        guard phase == .registered, var registration else {
            record(.wrongOrder, "link_code_companion_reg outside a registration", now: now)
            return errorAnswer(stanzaID, 400, "bad-request")
        }
        switch request.attribute("stage") {
        case "companion_hello":
            guard registration.isPairDeviceAcknowledged else {
                record(.wrongOrder, "companion_hello before pair-device was acknowledged", now: now)
                return errorAnswer(stanzaID, 400, "bad-request")
            }
            guard case .idle = registration.code, registration.pairing == nil else {
                record(.wrongOrder, "a second companion_hello", now: now)
                return errorAnswer(stanzaID, 400, "bad-request")
            }
            guard let phoneNumber = Self.phoneNumber(request),
                  let wrapped = request.child("link_code_pairing_wrapped_companion_ephemeral_pub")?.bytes,
                  wrapped.count == LinkCodeWrappedKey.byteCount,
                  let authKey = request.child("companion_server_auth_key_pub")?.bytes,
                  let platform = Self.text(request.child("companion_platform_id")), PairingPlatform(rawValue: platform) != nil,
                  let display = Self.text(request.child("companion_platform_display")), !display.isEmpty,
                  let nonce = request.child("link_code_pairing_nonce"), nonce.bytes == [0] || Self.text(nonce) == "0"
            else {
                record(.malformedStanza, "companion_hello lacks or garbles a required part", now: now)
                return errorAnswer(stanzaID, 400, "bad-request")
            }
            guard authKey == clientStaticKey else {
                record(.badSignature, "companion_hello's server auth key is not the handshake's noise key", now: now)
                return errorAnswer(stanzaID, 400, "bad-request")
            }
            guard world.offerCodePairing(phoneNumber: phoneNumber, connection: id) else {
                return errorAnswer(stanzaID, 404, "item-not-found")
            }
            let ref = Array(("2@" + Data(randomBytes(30)).base64EncodedString()).utf8)
            registration.phoneNumber = phoneNumber
            registration.code = .waitingForPhone(phoneNumber: phoneNumber, wrappedEphemeral: wrapped, ref: ref)
            self.registration = registration
            return send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID)], [
                Node("link_code_companion_reg", [Node("link_code_pairing_ref", bytes: ref)]),
            ]))
        case "companion_finish":
            guard case .primaryHelloSent(let primary, let ref, let account) = registration.code else {
                record(.wrongOrder, "companion_finish before primary_hello", now: now)
                return errorAnswer(stanzaID, 400, "bad-request")
            }
            guard let bundle = request.child("link_code_pairing_wrapped_key_bundle")?.bytes,
                  let companionIdentity = request.child("companion_identity_public")?.bytes,
                  request.child("link_code_pairing_ref")?.bytes == ref, let identity = account.identity
            else {
                record(.malformedStanza, "companion_finish lacks or garbles a required part", now: now)
                return errorAnswer(stanzaID, 400, "bad-request")
            }
            guard companionIdentity == registration.keys.identityKey else {
                record(.badSignature, "companion_finish's identity key is not the registration's", now: now)
                return errorAnswer(stanzaID, 400, "bad-request")
            }
            registration.code = .idle
            self.registration = registration
            let advSecret: [UInt8]
            do {
                advSecret = try primary.finish(wrappedKeyBundle: bundle, companionIdentityPublicKey: companionIdentity, identity: identity)
            } catch {
                // A mistyped code lands here: the phone tells its user, the companion gets an error.
                world.withdrawCodePairing(phoneNumber: account.phoneNumber, connection: id)
                return errorAnswer(stanzaID, 400, "bad-request")
            }
            let answer = send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID)]))
            return answer + sendPairSuccess(account: account, advSecret: advSecret, companionIdentity: companionIdentity, now: now)
        default:
            record(.malformedStanza, "link_code_companion_reg with an unknown stage", now: now)
            return errorAnswer(stanzaID, 400, "bad-request")
        }
    }

    /// The user typed `code` on the phone: unwrap the companion's key with it and send primary_hello.
    mutating func codeEntered(_ code: LinkCode, account: SimAccount, now: Date) -> [Action] {
        guard phase == .registered, var registration,
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

    mutating func randomBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }
}
