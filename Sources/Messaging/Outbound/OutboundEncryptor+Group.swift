import Foundation
import Signal
import WAWire

extension OutboundEncryptor {
    /// Our sender key's store key for `group`: the group and our own device under our LID (whatsmeow
    /// `sendGroup` names it by our LID; the phone number until the server told us the LID).
    public func senderKeyID(for group: JID) -> SenderKeyID {
        let account = device.account
        let own = (account.lid ?? account.phoneNumber).userJID.withDevice(account.phoneNumber.device)
        return SenderKeyID(group: group.userJID.description, sender: SignalAddress(own))
    }

    /// The devices of `fanOut` a group send may encrypt for: every member device but this one and
    /// hosted (business API) devices, which whatsmeow leaves out of group fan-out.
    public func targets(of fanOut: GroupFanOut) -> [JID] {
        var seen = Set<JID>()
        return fanOut.devices.filter { !isOwnDevice($0) && !$0.isHosted && seen.insert($0).inserted }
    }

    /// Whether `fanOut` will send our sender key to every device: the key is new (none stored) or is
    /// replaced because a holder left the group.
    public func replacesSenderKey(_ fanOut: GroupFanOut, state: ProtocolState) -> Bool {
        let stored = state.senderKeys[senderKeyID(for: fanOut.group)].flatMap { try? SenderKeyRecord(serialized: $0) }
        return stored?.isEmpty ?? true || fanOut.holderLeft
    }

    /// The devices of `fanOut` that get our SKDM in this send: all targets when the key is new or
    /// replaced, else those that do not hold it yet.
    public func distributionTargets(of fanOut: GroupFanOut, state: ProtocolState) -> [JID] {
        let targets = targets(of: fanOut)
        return replacesSenderKey(fanOut, state: state) ? targets : targets.filter { !fanOut.holders.contains($0) }
    }

    /// The state a group send needs: the sessions of the devices that get our SKDM, and our sender key.
    public func requirements(for fanOut: GroupFanOut, distributingTo devices: [JID]) -> StateRequest {
        var request = requirements(for: devices)
        request.senderKeys = [senderKeyID(for: fanOut.group)]
        return request
    }

    /// A group send (messaging.md §9.2, §9.3; whatsmeow `sendGroup`): our sender key for the group —
    /// created when there is none, replaced when a device holding it belongs to someone who left —
    /// its SKDM (at the chain's current iteration) wrapped in a `Message` and encrypted pairwise
    /// (`pkmsg`/`msg`) for every device of `distributionTargets`, then `message` encrypted once with
    /// the sender key (`skmsg`). A device whose pairwise encryption fails is left out (it asks for a
    /// retry, answered pairwise); the send fails only when no device at all can read it.
    ///
    /// The returned changes hold the advanced sender key (and, for a new key, the cleared holder list):
    /// commit them before the stanza is written. `devices` are the devices sent the SKDM, to be recorded
    /// as holders once the server accepts the stanza.
    public func encryptGroup(
        id: String,
        message: WAMessage,
        fanOut: GroupFanOut,
        state: ProtocolState,
        bundles: [JID: KeyBundle],
        using generator: inout some RandomNumberGenerator
    ) throws(SendError) -> OutboundEncryption {
        let keyID = senderKeyID(for: fanOut.group)
        let replaced = replacesSenderKey(fanOut, state: state)
        let stored = replaced ? SenderKeyRecord() : (state.senderKeys[keyID].flatMap { try? SenderKeyRecord(serialized: $0) } ?? SenderKeyRecord())
        let distribution: GroupCipher.Distribution
        do throws(SignalError) {
            distribution = try GroupCipher.distributionMessage(record: stored, using: &generator)
        } catch {
            throw SendError(.encryptionFailed)
        }
        var carrier = WAMessage()
        carrier.senderKeyDistributionMessage.groupID = fanOut.group.userJID.description
        carrier.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(distribution.message.serialized)
        let skdm = try Self.serialize(carrier)

        var working = Working(state: state, local: device.identity, encryptor: self)
        var ciphertexts: [MessageStanza.DeviceCiphertext] = []
        var failures: [JID: SignalError.Code] = [:]
        let targets = targets(of: fanOut)
        let distributing = replaced ? targets : targets.filter { !fanOut.holders.contains($0) }
        for target in distributing {
            let padded = MessagePadding.pad(skdm, using: &generator)
            do throws(SignalError) {
                ciphertexts.append(try working.encrypt(padded, for: target, bundle: bundles[target], using: &generator))
            } catch {
                failures[target] = error.code
            }
        }
        let readers = ciphertexts.count + (replaced ? 0 : targets.filter { fanOut.holders.contains($0) }.count)
        guard targets.isEmpty || readers > 0 else {
            throw SendError(.encryptionFailed)
        }
        let content = MessagePadding.pad(try Self.serialize(message), using: &generator)
        let group: GroupCipher.Encryption
        do throws(SignalError) {
            group = try GroupCipher.encrypt(content, record: distribution.record, using: &generator)
        } catch {
            throw SendError(.encryptionFailed)
        }
        var changes = working.changes
        changes.senderKeys[keyID] = group.record.serialized()
        if replaced {
            changes.resetSenderKeyHolders.insert(fanOut.group.userJID.description)
        }
        let stanza = MessageStanza.group(
            id: id, to: fanOut.group.userJID, attributes: MessageAttributes(for: message), recipients: ciphertexts,
            senderKeyCiphertext: group.serialized, phash: DeviceListHash.v2(fanOut.devices), deviceIdentity: device.deviceIdentity,
            addressingMode: fanOut.addressingMode == .lid ? "lid" : nil
        )
        return OutboundEncryption(
            stanza: stanza, changes: changes, devices: ciphertexts.map(\.device), failures: failures, phash: DeviceListHash.v2(fanOut.devices)
        )
    }

    /// `message` with our current SKDM for `group` attached (messaging.md §5.2 step 3): a member that
    /// asks for a retry gets the content pairwise and the key for what follows. Unchanged when we hold
    /// no sender key for the group.
    func withDistribution(_ message: WAMessage, group: JID, state: ProtocolState) -> WAMessage {
        guard let record = state.senderKeys[senderKeyID(for: group)].flatMap({ try? SenderKeyRecord(serialized: $0) }), !record.isEmpty else {
            return message
        }
        var none = SystemRandomNumberGenerator()
        // A stored record is not empty, so no key is drawn and the record does not change.
        guard let distribution = try? GroupCipher.distributionMessage(record: record, using: &none) else {
            return message
        }
        var message = message
        message.senderKeyDistributionMessage.groupID = group.userJID.description
        message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(distribution.message.serialized)
        return message
    }
}
