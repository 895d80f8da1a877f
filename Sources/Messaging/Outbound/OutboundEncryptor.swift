import Signal
import SwiftProtobuf
import WAWire

/// The send path's encryption, pure (messaging.md §8, whatsmeow send.go `sendDM`,
/// `encryptMessageForDevices`): given the device lists, the stored sessions and identities, and the
/// bundles fetched for devices without a session, it encrypts a `Message` per device and lays out the
/// `<message>` stanza. No I/O, no clock; ratchet and padding randomness is injected.
///
/// Use it in steps: `requirements(for:)` names the state to load, `devicesNeedingBundles(_:state:)`
/// the devices to fetch prekey bundles for (one `PreKeyFetch` IQ), then `encrypt…` decides.
public struct OutboundEncryptor: Sendable {
    public let device: LocalDevice

    public init(device: LocalDevice) {
        self.device = device
    }

    /// Whether `jid` is this very device (in its phone-number or LID form): never encrypted for.
    public func isOwnDevice(_ jid: JID) -> Bool {
        let account = device.account
        guard jid.device == account.phoneNumber.device else {
            return false
        }
        return jid.user == account.phoneNumber.user || (account.lid.map { jid.user == $0.user } ?? false)
    }

    /// The devices of `fanOut` this send encrypts for: the recipient's, then ours except this one.
    public func targets(of fanOut: DirectFanOut) -> [JID] {
        var seen = Set<JID>()
        return (fanOut.recipientDevices + fanOut.ownDevices).filter { !isOwnDevice($0) && seen.insert($0).inserted }
    }

    /// The sessions and identities of `devices`.
    public func requirements(for devices: [JID]) -> StateRequest {
        var request = StateRequest()
        request.addresses = Set(devices.map(SignalAddress.init))
        return request
    }

    /// The devices without a usable session in `state`: their bundles are fetched before encrypting.
    public func devicesNeedingBundles(_ devices: [JID], state: ProtocolState) -> [JID] {
        devices.filter { Self.session(for: SignalAddress($0), in: state)?.current == nil }
    }

    /// Encrypts `message` (already given its id) for every target of `fanOut`: the message itself for
    /// the recipient's devices, wrapped as a DeviceSentMessage (destination = the chat) for our other
    /// devices. A device that fails is left out (whatsmeow logs and skips it); the send fails only when
    /// not one of the recipient's devices could be encrypted for.
    public func encryptDirect(
        id: String,
        message: WAMessage,
        fanOut: DirectFanOut,
        state: ProtocolState,
        bundles: [JID: KeyBundle],
        using generator: inout some RandomNumberGenerator
    ) throws(SendError) -> OutboundEncryption {
        guard !fanOut.recipientDevices.isEmpty else {
            throw SendError(.noDevices)
        }
        let plaintext = try Self.serialize(message)
        let sent = try Self.serialize(Self.deviceSent(message, to: fanOut.chat))
        let recipients = Set(fanOut.recipientDevices)
        var working = Working(state: state, local: device.identity)
        var ciphertexts: [MessageStanza.DeviceCiphertext] = []
        var failures: [JID: SignalError.Code] = [:]
        for target in targets(of: fanOut) {
            let padded = MessagePadding.pad(recipients.contains(target) ? plaintext : sent, using: &generator)
            do throws(SignalError) {
                let encrypted = try working.encrypt(padded, for: target, bundle: bundles[target], using: &generator)
                ciphertexts.append(encrypted)
            } catch {
                failures[target] = error.code
            }
        }
        guard ciphertexts.contains(where: { recipients.contains($0.device) }) else {
            throw SendError(.encryptionFailed)
        }
        let stanza = MessageStanza.direct(
            id: id, to: fanOut.chat, attributes: MessageAttributes(for: message), recipients: ciphertexts,
            deviceIdentity: device.deviceIdentity, peerRecipientPN: fanOut.peerRecipientPN
        )
        let devices = ciphertexts.map(\.device)
        return OutboundEncryption(
            stanza: stanza, changes: working.changes, devices: devices, failures: failures,
            phash: DeviceListHash.v2(fanOut.recipientDevices + fanOut.ownDevices)
        )
    }

    /// `message` as our other devices get it (messaging.md §8.1 step 5): `deviceSentMessage` with the
    /// destination, and the message's context info beside it.
    static func deviceSent(_ message: WAMessage, to chat: JID) -> WAMessage {
        var wrapper = WAMessage()
        wrapper.deviceSentMessage.destinationJid = chat.description
        wrapper.deviceSentMessage.message = message
        if message.hasMessageContextInfo {
            wrapper.messageContextInfo = message.messageContextInfo
        }
        return wrapper
    }

    static func serialize(_ message: WAMessage) throws(SendError) -> [UInt8] {
        do {
            return try message.serializedBytes()
        } catch {
            throw SendError(.invalidMessage)
        }
    }

    /// A stored record that does not decode counts as none, as on the receive path.
    static func session(for address: SignalAddress, in state: ProtocolState) -> SessionRecord? {
        state.sessions[address].flatMap { try? SessionRecord(serialized: $0) }
    }
}

/// The sessions and identities one send advances, and the changes to commit.
struct Working {
    var state: ProtocolState
    let local: LocalIdentity
    var changes = ProtocolChanges()

    init(state: ProtocolState, local: LocalIdentity) {
        self.state = state
        self.local = local
    }

    /// One device's ciphertext: on its stored session, or on a new one from `bundle` (which wins when
    /// given, as a retry receipt's `<keys>` asks for a fresh session).
    mutating func encrypt(
        _ padded: [UInt8], for device: JID, bundle: KeyBundle?, preferBundle: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> MessageStanza.DeviceCiphertext {
        let address = SignalAddress(device)
        var record = OutboundEncryptor.session(for: address, in: state) ?? SessionRecord()
        if let bundle, preferBundle || record.current == nil {
            record = try SessionCipher.initiate(record: record, bundle: PreKeyBundle(bundle), local: local, using: &generator)
            trust(bundle.identityKey, for: address)
        }
        let encryption = try SessionCipher.encrypt(padded, record: record)
        let serialized = encryption.record.serialized()
        state.sessions[address] = serialized
        changes.sessions[address] = serialized
        return MessageStanza.DeviceCiphertext(
            device: device, type: encryption.type == .pkmsg ? .preKeyMessage : .message, ciphertext: encryption.serialized
        )
    }

    /// Trust on first use; a different key than the one on record is recorded as a change (the peer
    /// reinstalled; whatsmeow drops the old identity and session and goes on with the new bundle).
    private mutating func trust(_ key: [UInt8], for address: SignalAddress) {
        let stored = state.identities[address]
        guard stored != key else {
            return
        }
        if let stored {
            changes.identityChanges.append(ProtocolChanges.IdentityChange(
                address: address, previousFingerprint: IdentityFingerprint.of(stored), newFingerprint: IdentityFingerprint.of(key)
            ))
        }
        state.identities[address] = key
        changes.identities[address] = key
    }
}

extension PreKeyBundle {
    /// The Signal layer's view of a bundle from the wire.
    init(_ bundle: KeyBundle) {
        self.init(
            registrationID: bundle.registrationID, identityKey: bundle.identityKey,
            signedPreKeyID: bundle.signedPreKey.id, signedPreKey: bundle.signedPreKey.publicKey,
            signedPreKeySignature: bundle.signedPreKey.signature,
            oneTimePreKey: bundle.preKey.map { PreKeyBundle.OneTimePreKey(id: $0.id, publicKey: $0.publicKey) }
        )
    }
}
