import Foundation
import WAWire

extension ClientSessionMachine {
    /// The registration side of a connection: refs, QR rotation, the code flow and pair-success.
    struct PairingProgress: Sendable {
        /// From pair-device on: the refs, which one is on screen, and the ADV secret the QR advertises.
        var qr: QRPairingState?
        /// When the ref on screen expires.
        var refDeadline: Date?
        var code = CodeProgress.idle
        /// pair-success verified; waiting for the consumer to persist the credentials.
        var confirmation: PendingConfirmation?
        /// pair-device-sign was sent; the server's 515 comes next.
        var isPaired = false

        var acceptsPairingStanzas: Bool { confirmation == nil && !isPaired }
    }

    /// Phone-number pairing (pairing.md §5).
    enum CodeProgress: Sendable {
        case idle
        /// companion_hello sent, waiting for its ref.
        case requested(LinkCodeCompanion)
        /// The code is on screen; waiting for the phone's primary_hello.
        case shown(LinkCodeCompanion, ref: [UInt8])
        /// companion_finish sent with the derived ADV secret; pair-success comes next.
        case finishing
    }

    /// What the pair-device-sign reply needs once the consumer has accepted.
    struct PendingConfirmation: Sendable {
        let iqID: String
        let replyTo: AttributeValue
        let reply: [UInt8]
        let keyIndex: UInt32
        let account: PairedAccount
    }

    // MARK: pair-device and QR codes

    /// Acknowledges pair-device, then shows the first ref's QR (or starts the code flow).
    mutating func handlePairDevice(_ node: Node, now: Date) -> [Action] {
        guard phase == .pairing, var pairing, pairing.acceptsPairingStanzas, let id = node.attribute("id"),
              let pairDevice = node.child("pair-device")
        else {
            return []
        }
        var actions = send(Node("iq", ["to": replyAddress(node), "id": .string(id), "type": "result"]))
        guard phase != .closed else {
            return actions
        }
        guard let noise = try? Curve25519KeyPair(privateKey: credentials.noiseKey),
              let identity = try? Curve25519KeyPair(privateKey: credentials.identityKey)
        else {
            return actions + terminate(localFailure("the stored keys are malformed"))
        }
        // whatsmeow skips refs that are not binary; we also skip those a QR cannot carry.
        let refs = pairDevice.children(named: "ref").compactMap(\.bytes).map { String(decoding: $0, as: UTF8.self) }
            .filter { ref in
                (try? PairingQR(
                    ref: ref, noisePublicKey: noise.publicKey, identityPublicKey: identity.publicKey,
                    advSecret: credentials.advSecret, platform: configuration.qrPlatform
                )) != nil
            }
        guard let qr = try? QRPairingState(
            refs: refs, noisePublicKey: noise.publicKey, identityPublicKey: identity.publicKey,
            advSecret: credentials.advSecret, platform: configuration.qrPlatform
        ), let first = qr.currentQR else {
            return actions + terminate(violation(stage: .pairing, "pair-device carried no usable ref"))
        }
        let lifetime = configuration.timeouts.firstQR
        pairing.qr = qr
        pairing.refDeadline = now.adding(lifetime)
        self.pairing = pairing
        actions.append(.schedule(.qrRotation, after: lifetime))
        switch intent {
        case .pair(.qr):
            actions.append(.emit(.qr(code: first.string, validFor: lifetime)))
        case .pair(.code):
            actions += startCodePairing()
        case .login:
            break
        }
        return actions
    }

    /// The QR on screen expired: show the next ref's, or end the connection when none is left.
    mutating func rotateQR(now: Date) -> [Action] {
        guard phase == .pairing, var pairing, pairing.acceptsPairingStanzas, var qr = pairing.qr else {
            return []
        }
        guard let next = qr.advance() else {
            let what = if case .pair(.code) = intent { "the pairing code expired" } else { "all \(qr.refs.count) QR codes expired" }
            return terminate(DisconnectReason(stage: .pairing, category: .pairingTimeout, detail: "\(what) without a scan"))
        }
        let lifetime = configuration.timeouts.laterQR
        pairing.qr = qr
        pairing.refDeadline = now.adding(lifetime)
        self.pairing = pairing
        var actions: [Action] = [.schedule(.qrRotation, after: lifetime)]
        if case .pair(.qr) = intent {
            actions.append(.emit(.qr(code: next.string, validFor: lifetime)))
        }
        return actions
    }

    /// companion_reg_refresh (pairing.md §10): a new ADV secret, the current ref's QR again, then the ack.
    mutating func handleRegistrationRefresh(_ node: Node, now: Date) -> [Action] {
        guard node.child("companion_reg_refresh") != nil || node.child("pair-device-rotate-qr") != nil else {
            return []
        }
        var actions: [Action] = []
        if phase == .pairing, var pairing, pairing.acceptsPairingStanzas {
            if var qr = pairing.qr {
                if case .rotated(let current) = qr.rotateADVSecret(using: &random) {
                    credentials.advSecret = qr.advSecret
                    if let current, case .pair(.qr) = intent, let deadline = pairing.refDeadline {
                        actions.append(.emit(.qr(code: current.string, validFor: deadline.remaining(from: now))))
                    }
                }
                pairing.qr = qr
            } else {
                credentials.advSecret = random.bytes(32)
            }
            self.pairing = pairing
        }
        return actions + acknowledge(node)
    }

    // MARK: Code pairing

    private mutating func startCodePairing() -> [Action] {
        guard case .pair(.code(let phoneNumber)) = intent, var pairing, case .idle = pairing.code,
              let noise = try? Curve25519KeyPair(privateKey: credentials.noiseKey)
        else {
            return []
        }
        let companion: LinkCodeCompanion
        do {
            companion = try LinkCodeCompanion.start(using: &random)
        } catch {
            return terminate(localFailure("cannot start code pairing (\(error))"))
        }
        pairing.code = .requested(companion)
        self.pairing = pairing
        let registration = Node("link_code_companion_reg", [
            "jid": .jid(JID(user: phoneNumber, server: .whatsApp)),
            "stage": "companion_hello",
            "should_show_push_notification": "true",
        ], [
            Node("link_code_pairing_wrapped_companion_ephemeral_pub", bytes: companion.wrappedEphemeral.bytes),
            Node("companion_server_auth_key_pub", bytes: noise.publicKey),
            Node("companion_platform_id", content: .string(configuration.codePairingPlatform.rawValue)),
            Node("companion_platform_display", content: .string(configuration.codePairingDisplay)),
            Node("link_code_pairing_nonce", bytes: [0]),
        ])
        return sendIQ(Node("iq", ["xmlns": "md", "type": "set"], [registration]), for: .companionHello)
    }

    mutating func companionHelloAnswered(_ outcome: IQOutcome, now: Date) -> [Action] {
        guard phase == .pairing, var pairing, case .requested(let companion) = pairing.code else {
            return []
        }
        switch outcome {
        case .timeout:
            return terminate(DisconnectReason(stage: .pairing, category: .timeout, detail: "no answer to companion_hello"))
        case .error:
            let error = Self.requestError(outcome)
            return terminate(DisconnectReason(
                stage: .pairing, category: .pairingFailed, code: error.errorCode,
                detail: "the server refused the pairing code request (\(error.text ?? "no text"))"
            ))
        case .result(let node):
            guard let ref = node.child("link_code_companion_reg")?.child("link_code_pairing_ref")?.bytes, !ref.isEmpty else {
                return terminate(violation(stage: .pairing, "companion_hello answered without a ref"))
            }
            pairing.code = .shown(companion, ref: ref)
            self.pairing = pairing
            return [.emit(.pairingCode(companion.code.display, validFor: pairingWindow(now: now)))]
        }
    }

    /// The phone took the code (pairing.md §5.4–§5.5): ack, derive the ADV secret, send companion_finish.
    mutating func handlePrimaryHello(_ node: Node, now: Date) -> [Action] {
        var actions = acknowledge(node)
        guard phase == .pairing, let registration = node.child("link_code_companion_reg"),
              (registration.attribute("stage") ?? "primary_hello") == "primary_hello",
              var pairing, pairing.acceptsPairingStanzas, case .shown(let companion, let ref) = pairing.code,
              case .pair(.code(let phoneNumber)) = intent
        else {
            return actions
        }
        // whatsmeow ignores a primary_hello for another ref.
        guard registration.child("link_code_pairing_ref")?.bytes == ref else {
            return actions
        }
        guard let wrapped = registration.child("link_code_pairing_wrapped_primary_ephemeral_pub")?.bytes,
              let primaryIdentity = registration.child("primary_identity_pub")?.bytes
        else {
            return actions + terminate(violation(stage: .pairing, "primary_hello lacks the phone's keys"))
        }
        guard let identity = try? Curve25519KeyPair(privateKey: credentials.identityKey) else {
            return actions + terminate(localFailure("the stored identity key is malformed"))
        }
        let finish: LinkCodeCompanionFinish
        do {
            finish = try companion.finish(
                wrappedPrimaryEphemeral: wrapped, primaryIdentityPublicKey: primaryIdentity, identity: identity, using: &random
            )
        } catch {
            return actions + terminate(DisconnectReason(
                stage: .pairing, category: .pairingFailed, detail: "primary_hello refused (\(error.code))"
            ))
        }
        if var qr = pairing.qr {
            // The secret is 32 bytes by construction, the only thing adoption checks.
            try? qr.adoptLinkCodeSecret(finish.advSecret)
            pairing.qr = qr
        }
        credentials.advSecret = finish.advSecret
        pairing.code = .finishing
        self.pairing = pairing
        let registrationFinish = Node("link_code_companion_reg", [
            "jid": .jid(JID(user: phoneNumber, server: .whatsApp)),
            "stage": "companion_finish",
        ], [
            Node("link_code_pairing_wrapped_key_bundle", bytes: finish.wrappedKeyBundle),
            Node("companion_identity_public", bytes: identity.publicKey),
            Node("link_code_pairing_ref", bytes: ref),
        ])
        actions += sendIQ(Node("iq", ["xmlns": "md", "type": "set"], [registrationFinish]), for: .companionFinish)
        return actions
    }

    mutating func companionFinishAnswered(_ outcome: IQOutcome) -> [Action] {
        guard phase == .pairing, let pairing, case .finishing = pairing.code, !outcome.isResult else {
            return []
        }
        if case .timeout = outcome {
            return terminate(DisconnectReason(stage: .pairing, category: .timeout, detail: "no answer to companion_finish"))
        }
        let error = Self.requestError(outcome)
        return terminate(DisconnectReason(
            stage: .pairing, category: .pairingFailed, code: error.errorCode,
            detail: "the server refused companion_finish (\(error.text ?? "no text")); was the code typed correctly?"
        ))
    }

    /// What is left of the pairing window: the ref on screen plus every later ref.
    private func pairingWindow(now: Date) -> Duration {
        guard let pairing, let qr = pairing.qr, let deadline = pairing.refDeadline else {
            return .zero
        }
        let later = max(0, qr.refs.count - qr.currentIndex - 1)
        return deadline.remaining(from: now) + configuration.timeouts.laterQR * later
    }

    // MARK: pair-success

    /// Verifies pair-success (pairing.md §4.3) and hands the credentials over for persisting; answers an
    /// unverifiable one with whatsmeow's error reply and ends the connection.
    mutating func handlePairSuccess(_ node: Node, now: Date) -> [Action] {
        guard phase == .pairing, var pairing, pairing.acceptsPairingStanzas, let id = node.attribute("id"),
              let success = node.child("pair-success")
        else {
            return []
        }
        let replyTo = replyAddress(node)
        if let offset = Self.serverTimeOffset(node.attribute("t"), now: now) {
            serverTimeOffset = offset
        }
        guard let deviceIdentity = success.child("device-identity")?.bytes, let device = success.child("device"),
              let jid = Self.jid(device, "jid"), jid.server == .whatsApp, UInt64(jid.user) != nil
        else {
            return sendPairError(id: id, to: replyTo, .internalError)
                + terminate(DisconnectReason(stage: .pairing, category: .pairingFailed, detail: "pair-success lacks the device identity or JID"))
        }
        guard let identity = try? Curve25519KeyPair(privateKey: credentials.identityKey) else {
            return sendPairError(id: id, to: replyTo, .internalError) + terminate(localFailure("the stored identity key is malformed"))
        }
        let advSecret = pairing.qr?.advSecret ?? credentials.advSecret
        let verified: ADVVerifiedIdentity
        do {
            verified = try ADVCompanion.verify(deviceIdentity: deviceIdentity, advSecret: advSecret, identity: identity, using: &random)
        } catch {
            return sendPairError(id: id, to: replyTo, error.pairSuccessErrorReply ?? .internalError)
                + terminate(DisconnectReason(
                    stage: .pairing, category: .pairingFailed, detail: "pair-success failed verification (\(error.code))"
                ))
        }
        let account = PairedAccount(
            jid: jid.description,
            lid: Self.jid(device, "lid")?.description,
            platform: success.child("platform")?.attribute("name"),
            businessName: success.child("biz")?.attribute("name"),
            signedIdentity: verified.account,
            keyIndex: verified.keyIndex
        )
        credentials.account = account
        credentials.advSecret = advSecret
        pairing.confirmation = PendingConfirmation(
            iqID: id, replyTo: replyTo, reply: verified.reply, keyIndex: verified.keyIndex, account: account
        )
        self.pairing = pairing
        return [.cancel(.qrRotation), .confirmPairing(credentials)]
    }

    /// The consumer persisted (or failed to persist) the credentials: answer pair-success accordingly.
    mutating func pairingConfirmed(_ decision: PairingDecision, now: Date) -> [Action] {
        guard phase == .pairing, var pairing, let confirmation = pairing.confirmation else {
            return []
        }
        pairing.confirmation = nil
        switch decision {
        case .rejected(let detail):
            self.pairing = pairing
            return sendPairError(id: confirmation.iqID, to: confirmation.replyTo, .internalError)
                + terminate(DisconnectReason(
                    stage: .pairing, category: .pairingFailed, detail: "the credentials could not be persisted: \(detail)"
                ))
        case .accepted:
            pairing.isPaired = true
            self.pairing = pairing
            let sign = Node("pair-device-sign", [
                Node("device-identity", ["key-index": .string(String(confirmation.keyIndex))], bytes: confirmation.reply),
            ])
            var actions = send(Node("iq", ["to": confirmation.replyTo, "type": "result", "id": .string(confirmation.iqID)], [sign]))
            guard phase != .closed else {
                return actions
            }
            actions.append(.emit(.paired(confirmation.account)))
            let session = Node("unified_session", ["id": .string(unifiedSessionID(now: now))])
            return actions + send(Node("ib", [session]))
        }
    }

    private mutating func sendPairError(id: String, to: AttributeValue, _ reply: PairSuccessErrorReply) -> [Action] {
        let error = Node("error", ["code": .string(String(reply.code)), "text": .string(reply.text)])
        return send(Node("iq", ["to": to, "type": "error", "id": .string(id)], [error]))
    }

    /// whatsmeow's telemetry id: server time in ms plus three days, modulo one week.
    private func unifiedSessionID(now: Date) -> String {
        let week: Int64 = 7 * 24 * 3600 * 1000
        let serverMilliseconds = (now.timeIntervalSince1970 + serverTimeOffset.seconds) * 1000
        guard serverMilliseconds.isFinite, abs(serverMilliseconds) < 1e15 else {
            return "0"
        }
        let shifted = Int64(serverMilliseconds) + 3 * 24 * 3600 * 1000
        return String(((shifted % week) + week) % week)
    }

    /// A JID attribute as whatsmeow sends it (AD_JID), or as text from a less careful server.
    static func jid(_ node: Node, _ key: String) -> JID? {
        node.jidAttribute(key) ?? node.attribute(key).flatMap { JID(parsing: $0) }
    }

    /// The offset to the server's clock from a `t` attribute (Unix seconds); nil when it is not plausible.
    static func serverTimeOffset(_ t: String?, now: Date) -> Duration? {
        guard let t, let seconds = Int64(t), seconds > 0, seconds < 100_000_000_000 else {
            return nil
        }
        return .seconds(Double(seconds) - now.timeIntervalSince1970)
    }
}

extension Date {
    func adding(_ duration: Duration) -> Date {
        addingTimeInterval(duration.seconds)
    }

    /// The time from `now` until this date, never negative.
    func remaining(from now: Date) -> Duration {
        .seconds(max(0, timeIntervalSince(now)))
    }
}
