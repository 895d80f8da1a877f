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

    /// The device whose Signal address encrypts for `jid` (messaging.md §1.3, §8.2): its LID form
    /// whenever the mapping is known — our own account's LID, or a pair in `state` — because the
    /// receive path decrypts under the LID and moves phone-number state there. The wire keeps `jid`.
    public func encryptionDevice(of jid: JID, in state: ProtocolState) -> JID {
        guard jid.server == .whatsApp else {
            return jid
        }
        guard let lid = device.ownLID(forPhoneNumber: jid.user)?.user ?? state.lidByPhoneNumber[jid.user] else {
            return jid
        }
        return JID(user: lid, device: jid.device, server: .lid)
    }

    /// The sessions and identities of `devices`, under the address each is listed by and its LID
    /// form when that is ours; the stored LIDs of the other phone numbers, whose addresses
    /// `requirements(for:given:)` then names.
    public func requirements(for devices: [JID]) -> StateRequest {
        var request = StateRequest()
        for jid in devices {
            let encryption = encryptionDevice(of: jid, in: ProtocolState())
            request.addresses.insert(SignalAddress(jid))
            request.addresses.insert(SignalAddress(encryption))
            if encryption.server == .whatsApp {
                request.phoneNumbers.insert(jid.user)
            }
        }
        return request
    }

    /// The LID addresses of `devices` that `state`'s mappings name and `requirements(for:)` could not:
    /// load them too (one more round trip, only for phone numbers with a LID stored).
    public func requirements(for devices: [JID], given state: ProtocolState) -> StateRequest {
        var request = StateRequest()
        request.addresses = Set(devices.map { SignalAddress(encryptionDevice(of: $0, in: state)) })
        return request.subtracting(requirements(for: devices))
    }

    /// The devices without a usable session in `state` (under their LID address, or still under the
    /// phone number's, which the send moves): their bundles are fetched before encrypting.
    public func devicesNeedingBundles(_ devices: [JID], state: ProtocolState) -> [JID] {
        devices.filter { Self.session(for: $0, as: encryptionDevice(of: $0, in: state), in: state)?.current == nil }
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
        var working = Working(state: state, local: device.identity, encryptor: self)
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

    /// The session of `jid` encrypted for as `encryption`: the LID address's, else the one still
    /// stored under the phone number (`Working.encrypt` moves it).
    static func session(for jid: JID, as encryption: JID, in state: ProtocolState) -> SessionRecord? {
        session(for: SignalAddress(encryption), in: state) ?? (encryption == jid ? nil : session(for: SignalAddress(jid), in: state))
    }
}

/// The sessions and identities one send advances, and the changes to commit.
struct Working {
    var state: ProtocolState
    let local: LocalIdentity
    let encryptor: OutboundEncryptor
    var changes = ProtocolChanges()

    init(state: ProtocolState, local: LocalIdentity, encryptor: OutboundEncryptor) {
        self.state = state
        self.local = local
        self.encryptor = encryptor
    }

    /// One device's ciphertext: on its stored session, or on a new one from `bundle` (which wins when
    /// given, as a retry receipt's `<keys>` asks for a fresh session). The session is the one of the
    /// device's LID address when the mapping is known (`OutboundEncryptor.encryptionDevice`); state
    /// still under its phone number moves there first, as the receive path moves it.
    mutating func encrypt(
        _ padded: [UInt8], for device: JID, bundle: KeyBundle?, preferBundle: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> MessageStanza.DeviceCiphertext {
        let encryptedAs = encryptor.encryptionDevice(of: device, in: state)
        let address = SignalAddress(encryptedAs)
        if encryptedAs != device {
            moveToLID(from: SignalAddress(device), to: address)
        }
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

    /// messaging.md §1.3: a session and identity still under the phone number's address move to the
    /// LID's (where the LID has none: it is the one the receive path reads), and the phone number's
    /// rows are deleted.
    private mutating func moveToLID(from pn: SignalAddress, to lid: SignalAddress) {
        if let session = state.sessions.removeValue(forKey: pn) {
            changes.deletedSessions.insert(pn)
            if state.sessions[lid] == nil {
                state.sessions[lid] = session
                changes.sessions[lid] = session
            }
        }
        if let identity = state.identities.removeValue(forKey: pn) {
            changes.deletedIdentities.insert(pn)
            if state.identities[lid] == nil {
                state.identities[lid] = identity
                changes.identities[lid] = identity
            }
        }
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
