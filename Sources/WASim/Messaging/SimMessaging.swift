import Foundation
import Signal
import SwiftProtobuf
import WAWire

/// The simulated users' side of messaging, as a value: contacts and groups, the Signal sessions and
/// sender keys their phones hold with each linked device, and every device's offline queue.
///
/// A send encrypts one copy per linked device with real Signal (X3DH from the prekeys the device
/// uploaded, then the ratchet; sender keys for groups), lays it out as the server delivers it
/// (messaging.md §2.2) and queues it; a retry receipt makes the sender encrypt that copy again (§5.2).
/// No clock, no locks, no sockets: `SimWorld` keeps one behind its lock and routes the stanzas.
struct SimMessaging: Sendable {
    /// A sender's pairwise session with one linked device.
    struct SessionKey: Hashable, Sendable {
        /// The sender's Signal address (`SimSender.address`).
        let sender: String
        let device: JID
    }

    /// A sender's sender key in one group.
    struct SenderKeyKey: Hashable, Sendable {
        let group: JID
        let sender: String
    }

    /// A message about to be fanned out to linked devices.
    struct Outgoing: Sendable {
        let sender: SimSender
        /// The attributes every copy carries.
        let attributes: Node.Attributes
        /// The `Message` each device reads (unpadded).
        let content: [UInt8]
        /// For a group message: each copy carries the sender's SKDM pairwise, then the content as one `skmsg`.
        let group: JID?
    }

    /// The copies one send queued, by device; devices it could not encrypt for are left out.
    struct Fanout: Sendable {
        var stanzas: [JID: SimStanza] = [:]
        /// Devices without a signed prekey, or whose bundle did not verify: nothing could be encrypted for them.
        var unreachable: [JID] = []
    }

    /// What whatsmeow's sender gives up at (messaging.md §5.2 step 2): retries counted past this are not answered.
    static let maximumRetryCount = 10
    /// How long a sender waits before rebuilding a session again for a retry without keys (whatsmeow).
    static let sessionRecreationInterval: TimeInterval = 3600

    var contacts: [String: SimContact] = [:]
    var groups: [String: SimGroup] = [:]
    var sessions: [SessionKey: SessionRecord] = [:]
    var senderKeys: [SenderKeyKey: SenderKeyRecord] = [:]
    var mailboxes: [JID: SimMailbox] = [:]
    var nextSequence: UInt64 = 1
    /// When each session was last rebuilt from a fetched bundle for a retry.
    var recreated: [SessionKey: Date] = [:]
    /// What the simulated phones received from linked devices (SimMessaging+Receiving.swift).
    var receiving = SimReceiving()

    // MARK: Sending

    /// Encrypts `message` for each of `devices` and queues the copies. A device without a session gets
    /// one from its bundle (consuming a one-time prekey); a device nothing can be encrypted for is
    /// reported, not fatal. `corrupt` says which copies get a broken pairwise ciphertext (the
    /// `undecryptable_message` fault). Throws, changing nothing, only when the sender's own keys fail.
    mutating func send(
        _ message: Outgoing,
        to devices: [JID],
        linked: inout [JID: SimLinkedDevice],
        now: Date,
        random: inout some RandomNumberGenerator,
        corrupt: (JID) -> Bool
    ) throws(SignalError) -> Fanout {
        guard let local = message.sender.local else {
            throw SignalError(.invalidKey)
        }
        var groupPart: (carrier: [UInt8], ciphertext: [UInt8])?
        if let group = message.group {
            groupPart = try groupCiphertext(message, group: group, random: &random)
        }
        var fanout = Fanout()
        for device in devices {
            let key = SessionKey(sender: message.sender.address, device: device)
            let plaintext = MessagePadding.pad(groupPart?.carrier ?? message.content, using: &random)
            guard let record = try? session(key, local: local, linked: &linked, random: &random),
                  let encryption = try? SessionCipher.encrypt(plaintext, record: record)
            else {
                fanout.unreachable.append(device)
                continue
            }
            sessions[key] = encryption.record
            var children = [Self.enc(encryption.type, corrupt(device) ? Self.corrupted(encryption) : encryption.serialized)]
            if let groupPart {
                children.append(Self.enc(.skmsg, groupPart.ciphertext))
            }
            let origin = SimOrigin(sender: message.sender.lid, content: message.content, group: message.group)
            fanout.stanzas[device] = enqueue(Node("message", message.attributes, children), origin: origin, for: device, now: now)
        }
        return fanout
    }

    /// The SKDM carrier (`Message{2 senderKeyDistributionMessage}`) and the `skmsg` of the content: the
    /// distribution message reflects the iteration the `skmsg` is encrypted at (messaging.md §9.2).
    private mutating func groupCiphertext(
        _ message: Outgoing, group: JID, random: inout some RandomNumberGenerator
    ) throws(SignalError) -> (carrier: [UInt8], ciphertext: [UInt8]) {
        let key = SenderKeyKey(group: group, sender: message.sender.address)
        let distribution = try GroupCipher.distributionMessage(record: senderKeys[key] ?? SenderKeyRecord(), using: &random)
        let encryption = try GroupCipher.encrypt(
            MessagePadding.pad(message.content, using: &random), record: distribution.record, using: &random
        )
        senderKeys[key] = encryption.record
        return (Self.distributionCarrier(distribution.message, group: group), encryption.serialized)
    }

    /// The sender's session with the device, set up from the device's bundle when it has none.
    private mutating func session(
        _ key: SessionKey, local: LocalIdentity, linked: inout [JID: SimLinkedDevice], random: inout some RandomNumberGenerator
    ) throws(SignalError) -> SessionRecord {
        if let record = sessions[key], record.current != nil {
            return record
        }
        guard let bundle = linked[key.device]?.takeBundle() else {
            throw SignalError(.noSession)
        }
        return try SessionCipher.initiate(record: sessions[key] ?? SessionRecord(), bundle: bundle, local: local, using: &random)
    }

    mutating func enqueue(_ node: Node, origin: SimOrigin, for device: JID, now: Date) -> SimStanza {
        let stanza = SimStanza(sequence: nextSequence, node: node, offers: 0, queuedAt: now)
        nextSequence += 1
        mailboxes[device, default: SimMailbox()].append(SimMailbox.Entry(stanza: stanza, origin: origin))
        return stanza
    }

    // MARK: Retry receipts

    /// Answers `retry` from `device` for the queued stanza `sequence` (messaging.md §5.2): the sender
    /// encrypts the content again for that device alone, from the receipt's `<keys>` when present (a new
    /// session), else from a fetched bundle when it has no session or, from the second retry on, once an
    /// hour; a group resend carries the current SKDM with the content, pairwise. The resend keeps the
    /// original's attributes and is queued like any stanza. Nil when the stanza is no longer queued, was
    /// relayed from another linked device, its sender is unknown, or the count is past whatsmeow's limit.
    mutating func resend(
        _ retry: SimRetryReceipt,
        of sequence: UInt64,
        device: JID,
        senders: (JID) -> SimSender?,
        linked: inout [JID: SimLinkedDevice],
        now: Date,
        random: inout some RandomNumberGenerator
    ) throws(SignalError) -> SimStanza? {
        guard retry.count < Self.maximumRetryCount,
              let entry = mailboxes[device]?.entry(sequence), !entry.origin.relayed,
              let sender = senders(entry.origin.sender), let local = sender.local
        else {
            return nil
        }
        let key = SessionKey(sender: sender.address, device: device)
        var record = sessions[key] ?? SessionRecord()
        if let bundle = retry.keys {
            record = try SessionCipher.initiate(record: record, bundle: bundle, local: local, using: &random)
        } else if record.current == nil || (retry.count >= 2 && isDueForRecreation(key, now: now)) {
            guard let bundle = linked[device]?.takeBundle() else {
                return nil
            }
            record = try SessionCipher.initiate(record: record, bundle: bundle, local: local, using: &random)
            recreated[key] = now
        }
        var plaintext = entry.origin.content
        if let group = entry.origin.group {
            let distribution = try GroupCipher.distributionMessage(
                record: senderKeys[SenderKeyKey(group: group, sender: sender.address)] ?? SenderKeyRecord(), using: &random
            )
            senderKeys[SenderKeyKey(group: group, sender: sender.address)] = distribution.record
            plaintext = Self.withDistribution(plaintext, distribution.message, group: group)
        }
        let encryption = try SessionCipher.encrypt(MessagePadding.pad(plaintext, using: &random), record: record)
        sessions[key] = encryption.record
        let node = Node("message", entry.stanza.node.attributes, [
            Self.enc(encryption.type, encryption.serialized, count: retry.count),
        ])
        return enqueue(node, origin: entry.origin, for: device, now: now)
    }

    private func isDueForRecreation(_ key: SessionKey, now: Date) -> Bool {
        guard let last = recreated[key] else {
            return true
        }
        return now.timeIntervalSince(last) >= Self.sessionRecreationInterval
    }

    // MARK: The queues

    /// The device was unlinked or linked anew under a reused number: its queue and every session
    /// with it belong to a companion that is gone.
    mutating func forget(device: JID) {
        mailboxes[device] = nil
        sessions = sessions.filter { $0.key.device != device }
        recreated = recreated.filter { $0.key.device != device }
        receiving.forget(device: device)
    }

    /// The device's queued stanzas, oldest first.
    func queue(of device: JID) -> [SimStanza] {
        mailboxes[device]?.entries.map(\.stanza) ?? []
    }

    // MARK: Layout

    /// `<enc v="2" type=…>`, with `count` on a resend.
    static func enc(_ type: CiphertextType, _ ciphertext: [UInt8], count: Int? = nil) -> Node {
        var attributes: Node.Attributes = ["v": "2", "type": .string(type.rawValue)]
        if let count {
            attributes["count"] = .string(String(count))
        }
        return Node("enc", attributes, bytes: ciphertext)
    }

    /// `Message{2 senderKeyDistributionMessage{1 groupID, 2 SKDM}}`: how an SKDM travels pairwise.
    static func distributionCarrier(_ distribution: SenderKeyDistributionMessage, group: JID) -> [UInt8] {
        withDistribution([], distribution, group: group)
    }

    /// `content` with the SKDM added (field 2), as a group resend carries it.
    static func withDistribution(_ content: [UInt8], _ distribution: SenderKeyDistributionMessage, group: JID) -> [UInt8] {
        var message = (try? WAMessage(serializedBytes: content)) ?? WAMessage()
        message.senderKeyDistributionMessage.groupID = group.description
        message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(distribution.serialized)
        // A message built from decoded fields always serializes.
        return (try? message.serializedBytes()) ?? []
    }

    /// `Message{1 conversation}`.
    static func text(_ text: String) -> [UInt8] {
        var message = WAMessage()
        message.conversation = text
        return (try? message.serializedBytes()) ?? []
    }

    /// `Message{31 deviceSentMessage{1 destinationJID, 2 message{1 conversation}}}` (messaging.md §2.7).
    static func deviceSent(_ text: String, to chat: JID) -> [UInt8] {
        var inner = WAMessage()
        inner.conversation = text
        var message = WAMessage()
        message.deviceSentMessage.destinationJid = chat.description
        message.deviceSentMessage.message = inner
        return (try? message.serializedBytes()) ?? []
    }

    /// The ciphertext with its MAC broken, so that the device's decryption fails after parsing (the
    /// `undecryptable_message` fault): the last byte of a `msg`, or of the `msg` inside a `pkmsg`.
    static func corrupted(_ encryption: SessionCipher.Encryption) -> [UInt8] {
        var bytes = encryption.serialized
        var end = bytes.endIndex
        if encryption.type == .pkmsg, let inner = try? PreKeyWhisperMessage(parsing: bytes).message.serialized,
           let range = bytes.firstRange(of: inner) {
            end = range.upperBound
        }
        if end > bytes.startIndex {
            bytes[end - 1] ^= 0x01
        }
        return bytes
    }
}
