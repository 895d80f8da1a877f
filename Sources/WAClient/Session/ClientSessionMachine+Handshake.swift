import Foundation
import WAWire

extension ClientSessionMachine {
    /// Sends the connection header with ClientHello, presenting a registration or a login.
    mutating func connect(now: Date) -> [Action] {
        guard phase == .idle else {
            return []
        }
        guard let noiseKey = try? Curve25519KeyPair(privateKey: credentials.noiseKey) else {
            return terminate(localFailure("the stored noise key is not 32 bytes"))
        }
        let payload: WAClientPayload
        switch intent {
        case .pair(let method):
            if case .code(let phoneNumber) = method, !Self.isValidPhoneNumber(phoneNumber) {
                return terminate(localFailure("the phone number for code pairing must be 7 or more digits, not starting with 0"))
            }
            guard let registration = registrationPayload() else {
                return terminate(localFailure("the stored identity or signed prekey is malformed"))
            }
            payload = registration
        case .login:
            guard let account = credentials.account, let jid = JID(parsing: account.jid),
                  let username = UInt64(jid.user)
            else {
                return terminate(localFailure("a login needs paired credentials"))
            }
            payload = configuration.payload.loginPayload(username: username, device: UInt32(jid.device))
        }
        var handshake = ClientHandshake(
            noiseKey: noiseKey,
            payload: payload,
            trustedRootKey: configuration.trustedRootKey,
            ephemeralKey: Curve25519KeyPair.generate(using: &random)
        )
        do {
            let hello = try stream.frame(try handshake.start())
            state = .handshaking(handshake)
            return [.write(hello), .schedule(.handshake, after: configuration.timeouts.handshake)]
        } catch {
            return terminate(localFailure("cannot start the handshake (\(error))"))
        }
    }

    /// Verifies ServerHello and the certificate chain, sends ClientFinish and switches to the transport keys.
    mutating func serverHello(_ frame: [UInt8], handshake: ClientHandshake, now: Date) -> [Action] {
        var handshake = handshake
        let completion: ClientHandshake.Completion
        do {
            completion = try handshake.receiveServerHello(frame, now: Self.unixSeconds(now))
        } catch let error as CertificateChainError {
            return terminate(DisconnectReason(
                stage: .certificate, category: .certificateRejected, detail: "server certificate refused (\(error.code))"
            ))
        } catch {
            return terminate(violation(stage: .noise, "ServerHello refused (\(error))"))
        }
        let finish: [UInt8]
        do {
            finish = try stream.frame(completion.clientFinish)
        } catch {
            return terminate(localFailure("cannot frame ClientFinish (\(error))"))
        }
        let stage: Stage = if case .pair = intent { .pairing(PairingProgress()) } else { .loggingIn }
        state = .connected(Connection(transport: completion.transport, stage: stage, keepalive: KeepaliveProgress(since: now)))
        return [.cancel(.handshake), .write(finish)] + scheduleKeepalive()
    }

    private func registrationPayload() -> WAClientPayload? {
        guard let identity = try? Curve25519KeyPair(privateKey: credentials.identityKey),
              let signedPreKey = try? Curve25519KeyPair(privateKey: credentials.signedPreKey)
        else {
            return nil
        }
        let keys = RegistrationKeys(
            registrationID: credentials.registrationID,
            identityKey: identity.publicKey,
            signedPreKeyID: credentials.signedPreKeyID,
            signedPreKey: signedPreKey.publicKey,
            signedPreKeySignature: credentials.signedPreKeySignature
        )
        return try? configuration.payload.registrationPayload(keys: keys)
    }

    /// whatsmeow's rule for PairPhone: digits only, more than 6 of them, no leading 0.
    static func isValidPhoneNumber(_ text: String) -> Bool {
        text.utf8.count > 6 && text.utf8.count <= 20 && text.first != "0"
            && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    static func unixSeconds(_ date: Date) -> UInt64 {
        // Out-of-range clocks read as 0 (every certificate then fails as not yet valid) rather than trapping.
        let seconds = date.timeIntervalSince1970
        return seconds > 0 && seconds < 1e15 ? UInt64(seconds) : 0
    }

    func localFailure(_ detail: String) -> DisconnectReason {
        DisconnectReason(stage: .local, category: .other, detail: detail)
    }
}
