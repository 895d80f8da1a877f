import Foundation
import Signal
import WAWire

extension SimMessaging {
    /// What a simulated phone made of one copy addressed to it.
    enum Reading: Sendable {
        case content(MessageContent)
        /// Signal's `duplicate`: the copy's message key was used already (the same bytes again).
        case duplicate
        /// Anything else; the detail names the reason (a Signal or padding error code, or the identity).
        case failed(String)
    }

    /// The phone `receiver` decrypts `copy` from the linked device `device` with its session (X3DH as
    /// responder for a `pkmsg`, from its signed prekey and the one-time prekey the device's bundle
    /// carried), unpads and decodes it (messaging.md §2.4, §2.5). `identity` is the device's identity key
    /// as linked: a session under another key is refused. With `commit` false nothing is kept (the phone
    /// pretends it could not decrypt). `handedOut` says which one-time prekey ids its bundles gave out.
    mutating func read(
        _ copy: SimDeviceMessage.Copy,
        by receiver: SimReceiver,
        from device: JID,
        identity: [UInt8],
        handedOut: (UInt32) -> Bool,
        commit: Bool,
        random: inout some RandomNumberGenerator
    ) -> Reading {
        guard let local = receiver.sender.local else {
            return .failed("invalid_key")
        }
        let key = SessionKey(sender: receiver.sender.address, device: device)
        let record = sessions[key] ?? SessionRecord()
        let used = receiving.usedPreKeys[receiver.sender.address] ?? []
        let decryption: SessionCipher.Decryption
        do throws(SignalError) {
            if copy.type == .preKeyMessage {
                decryption = try SessionCipher.decrypt(
                    try PreKeyWhisperMessage(parsing: copy.ciphertext), record: record, local: local,
                    signedPreKey: { $0 == receiver.signedPreKeyID ? receiver.signedPreKey : nil },
                    oneTimePreKey: { id in handedOut(id) && !used.contains(id) ? receiver.oneTimePreKey(id) : nil },
                    using: &random
                )
            } else {
                decryption = try SessionCipher.decrypt(try WhisperMessage(parsing: copy.ciphertext), record: record, using: &random)
            }
        } catch {
            return error.code == .duplicate ? .duplicate : .failed(error.code.description)
        }
        guard decryption.remoteIdentityKey == identity else {
            return .failed("untrusted_identity")
        }
        let content: MessageContent
        do {
            content = try MessageContent(decoding: try MessagePadding.unpad(decryption.plaintext))
        } catch let error as SignalError {
            return .failed(error.code.description)
        } catch {
            return .failed("invalid_protobuf")
        }
        if commit {
            sessions[key] = decryption.record
            if let id = decryption.consumedOneTimePreKeyID {
                receiving.usedPreKeys[receiver.sender.address, default: []].insert(id)
            }
        }
        return .content(content)
    }

    /// Whether the phone holds a session with the device it could decrypt with.
    func hasSession(_ receiver: SimReceiver, with device: JID) -> Bool {
        sessions[SessionKey(sender: receiver.sender.address, device: device)]?.current != nil
    }

    // MARK: What the phones send back (messaging.md §4.3, §5.1)

    /// A receipt as the server delivers it to the sending device: `from` the phone as the device named it
    /// (or the group, with the member as `participant`), the message id, the time, and `type` unless it
    /// is a delivery receipt.
    static func receipt(
        from: AttributeValue, participant: AttributeValue?, id: String, type: String?, recipient: JID? = nil, at time: Date, _ children: [Node] = []
    ) -> Node {
        var attributes: Node.Attributes = ["from": from, "id": .string(id)]
        attributes["participant"] = participant
        attributes["recipient"] = recipient.map(AttributeValue.jid)
        attributes["t"] = .string(SimConnectionMachine.unix(time))
        attributes["type"] = type.map(AttributeValue.string)
        return children.isEmpty ? Node("receipt", attributes) : Node("receipt", attributes, children)
    }

    /// `<receipt type="retry">` (§5.1): `<retry count id t v="1">`, the phone's `<registration>`, and
    /// `<keys>` (type 05, identity, a new one-time prekey, the signed prekey) when `bundle` is given.
    static func retryReceipt(
        from: AttributeValue, participant: AttributeValue?, id: String, retry: SimReceiving.OpenRetry, registrationID: UInt32,
        bundle: KeyBundle?, at time: Date
    ) -> Node {
        var children = [
            Node("retry", ["count": .string(String(retry.count)), "id": .string(id), "t": .string(retry.timestamp), "v": "1"]),
            Node("registration", bytes: SimConnectionMachine.bigEndianBytes(registrationID, count: 4)),
        ]
        if let bundle {
            var keys = [
                Node("type", bytes: [RegistrationKeys.keyType]),
                Node("identity", bytes: bundle.identityKey),
            ]
            if let preKey = bundle.preKey {
                keys.append(Node("key", [
                    Node("id", bytes: SimConnectionMachine.bigEndianBytes(preKey.id, count: 3)), Node("value", bytes: preKey.publicKey),
                ]))
            }
            keys.append(Node("skey", [
                Node("id", bytes: SimConnectionMachine.bigEndianBytes(bundle.signedPreKey.id, count: 3)),
                Node("value", bytes: bundle.signedPreKey.publicKey),
                Node("signature", bytes: bundle.signedPreKey.signature),
            ]))
            children.append(Node("keys", keys))
        }
        return receipt(from: from, participant: participant, id: id, type: "retry", at: time, children)
    }
}
