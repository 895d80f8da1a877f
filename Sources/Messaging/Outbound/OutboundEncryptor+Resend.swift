import Signal
import WAWire

extension OutboundEncryptor {
    /// The state answering a retry receipt needs: the requester's session, and in a group our sender key.
    public func requirements(forResendIn chat: JID, to requester: JID) -> StateRequest {
        var request = requirements(for: [requester])
        if chat.isGroup {
            request.senderKeys = [senderKeyID(for: chat)]
        }
        return request
    }

    /// The device a retry receipt came from: `participant` in groups, else `from`.
    public static func requester(of request: RetryRequest) -> JID? {
        let value = request.isGroup ? request.envelope.participant : request.envelope.from
        guard case .jid(let jid)? = value else {
            return nil
        }
        return jid
    }

    /// Whether answering `request` needs a fetched bundle: the receipt brought no `<keys>` and there
    /// is no session with the requester (messaging.md §5.2 step 4).
    public func resendNeedsBundle(_ request: RetryRequest, state: ProtocolState) -> Bool {
        guard request.keys == nil, let requester = Self.requester(of: request) else {
            return false
        }
        return Self.session(for: requester, as: encryptionDevice(of: requester, in: state), in: state)?.current == nil
    }

    /// Our message `message` to `chat` encrypted again for the requesting device only (messaging.md
    /// §5.2): on a new session from the receipt's `<keys>` when it has them, else from `fetched`
    /// when there is no session, else on the stored session; wrapped as a DeviceSentMessage for our own
    /// devices in a DM, with our current SKDM attached in a group (`state` must then hold our sender key,
    /// `requirements(forResendIn:to:)`). The stanza is `RetryRequest.resend`'s: no `<participants>`, `<enc count>`.
    public func encryptResend(
        _ request: RetryRequest,
        message: WAMessage,
        chat: JID,
        state: ProtocolState,
        fetched: KeyBundle?,
        using generator: inout some RandomNumberGenerator
    ) throws(SendError) -> OutboundEncryption {
        guard let requester = Self.requester(of: request) else {
            throw SendError(.encryptionFailed)
        }
        let plaintext: WAMessage
        if chat.isGroup {
            // Groups have no DeviceSentMessage; the resend carries our current sender key.
            plaintext = withDistribution(message, group: chat, state: state)
        } else {
            plaintext = device.account.owns(requester) ? Self.deviceSent(message, to: chat) : message
        }
        let padded = MessagePadding.pad(try Self.serialize(plaintext), using: &generator)
        var working = Working(state: state, local: device.identity, encryptor: self)
        let bundle = request.keys ?? fetched
        if bundle == nil, Self.session(for: requester, as: encryptionDevice(of: requester, in: state), in: state)?.current == nil {
            throw SendError(.noSession)
        }
        let encrypted: MessageStanza.DeviceCiphertext
        do throws(SignalError) {
            encrypted = try working.encrypt(padded, for: requester, bundle: bundle, preferBundle: request.keys != nil, using: &generator)
        } catch {
            throw SendError(.encryptionFailed)
        }
        let stanza = request.resend(
            attributes: MessageAttributes(for: message), type: encrypted.type, ciphertext: encrypted.ciphertext,
            deviceIdentity: device.deviceIdentity
        )
        return OutboundEncryption(
            stanza: stanza, changes: working.changes, devices: [requester], failures: [:], phash: DeviceListHash.v2([requester])
        )
    }
}
