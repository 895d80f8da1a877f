import Foundation
import Signal
import WAWire

extension IncomingMessage {
    /// A status update (`status@broadcast`): acked without being read (docs/messaging.md).
    var isStatus: Bool {
        from.server == .broadcast && from.user == JID.statusBroadcast.user
    }

    /// The message's key in the inbox: chat, sending device and id as the stanza spells them.
    var inboxKey: InboxKey? {
        source.sender.map { InboxKey(chat: source.chat.description, sender: $0.description, messageID: id) }
    }
}

extension InboundProcessor {
    /// For a message to decrypt: whether the inbox has it, the sender's stored LID, the sessions and
    /// identities of both of the sender's forms (a state still under the phone number must move), the
    /// group's sender keys, the one-time prekeys the `pkmsg`s name, and — when a mapping is new or
    /// phone-number state is left — every row of the phone number, to move it to the LID.
    func requirements(for message: IncomingMessage, given state: ProtocolState) -> StateRequest {
        var request = StateRequest()
        guard case .decrypt(let parts) = message.handling, !message.isStatus,
              let sender = message.source.sender, let key = message.inboxKey
        else {
            return request
        }
        request.inbox = [key]
        let addressing = SenderAddressing(message, sender: sender, state: state, device: device)
        var devices = [addressing.decryption]
        if let phoneNumber = addressing.phoneNumberForm {
            request.phoneNumbers.insert(phoneNumber.user)
            devices.append(phoneNumber)
        }
        if let chat = chatMapping(of: message) {
            request.phoneNumbers.insert(chat.phoneNumber)
        }
        request.addresses = Set(devices.map(SignalAddress.init))
        if message.source.isGroup {
            // Also without a `skmsg`: an SKDM in a pairwise part joins the record's other states.
            let group = message.source.chat.description
            request.senderKeys = Set(devices.map { SenderKeyID(group: group, sender: SignalAddress($0)) })
        }
        for part in parts where part.type == .preKeyMessage {
            if let id = (try? PreKeyWhisperMessage(parsing: part.ciphertext))?.oneTimePreKeyID {
                request.oneTimePreKeys.insert(id)
            }
        }
        if addressing.needsMigration(state), let name = addressing.phoneNumberName {
            request.names.insert(name)
        }
        return request
    }

    /// A `<message>`: nack, ack, or decrypt (messaging.md §2.4, §2.8, §3.1).
    func process(
        _ message: IncomingMessage, state: ProtocolState, using generator: inout some RandomNumberGenerator
    ) -> InboundOutcome {
        var outcome = InboundOutcome(report: InboundReport(tag: "message"))
        outcome.report.sentAt = Self.serverTime(message.timestamp)
        switch message.handling {
        case .nack(let error):
            let code = error.nackCode ?? .parsingError
            outcome.answers = [.node(message.envelope.ack(error: code))]
            outcome.report.disposition = .refused(code)
        case .plaintext:
            outcome.answers = [.node(message.envelope.ack())]
            outcome.report.messageType = MessageType.newsletter
        case .unavailable:
            // whatsmeow also asks our phone for the content (a peer-data request); Pairgate does not yet.
            outcome.answers = [.node(message.envelope.ack())]
            outcome.report.messageType = MessageType.unavailable
        case .decrypt(let parts):
            guard let sender = message.source.sender, !message.isStatus else {
                // Statuses are acked without an error: a nacked status blocks the offline queue (§2.8).
                outcome.answers = [.node(message.envelope.ack())]
                outcome.report.messageType = MessageType.status
                return outcome
            }
            var decryption = Decryption(message: message, sender: sender, state: state, processor: self)
            if decryption.storedType == nil {
                decryption.run(parts, using: &generator)
            }
            outcome = decryption.outcome(base: outcome)
        }
        return outcome
    }

    /// A stanza's `t` as a date a store can hold: a hostile value (up to 18 digits, or negative) is
    /// clamped to 1970…9999, as the inbox's `sent_at` must be.
    static func serverTime(_ t: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(min(max(t, 0), 253_402_300_799)))
    }

    /// The LID ↔ phone-number pair of the chat that an own-device DM reveals (`peer_recipient_*`).
    func chatMapping(of message: IncomingMessage) -> ProtocolChanges.LIDPair? {
        guard message.source.isFromMe, let alt = message.source.recipientAlt,
              let mapping = LIDMapping(message.source.chat, alt)
        else {
            return nil
        }
        return ProtocolChanges.LIDPair(phoneNumber: mapping.phoneNumber.user, lid: mapping.lid.user)
    }

    /// The delivery receipt, then the receipts our own phone expects for its protocol messages
    /// (messaging.md §4.1): `hist_sync` after a history-sync notification, `peer_msg` after a protocol
    /// message sent as `category="peer"`.
    func receipts(for message: IncomingMessage, type: String?) -> [Node] {
        var nodes = [message.deliveryReceipt(active: isActive)]
        if message.source.isFromMe, let type, MessageType.isProtocol(type) {
            if type == MessageType.historySyncNotification {
                nodes.append(message.protocolReceipt(.historySync, ownPhoneNumber: device.account.phoneNumber))
            }
            if message.category == "peer" {
                nodes.append(message.protocolReceipt(.peerMessage, ownPhoneNumber: device.account.phoneNumber))
            }
        }
        return nodes
    }
}

/// One message's decryption: the working copies of the state it touches, walked through the `<enc>`
/// parts in the order `IncomingMessage.handling` gives (pairwise first, so an SKDM lands before the
/// `skmsg` that needs it), then summed up as an outcome.
private struct Decryption {
    let message: IncomingMessage
    let processor: InboundProcessor
    let state: ProtocolState
    let addressing: SenderAddressing
    let address: SignalAddress
    let senderKeyID: SenderKeyID
    /// The type the inbox holds this message under, when it was stored before.
    let storedType: String?
    var changes = ProtocolChanges()

    var record: SessionRecord
    var recordChanged = false
    var identity: [UInt8]?
    var senderKey: SenderKeyRecord
    var senderKeyChanged = false
    var consumed: Set<UInt32>

    /// Decoded plaintexts, in part order.
    var contents: [MessageContent] = []
    var decrypted = 0
    var duplicates = 0
    /// The last protobuf did not parse (whatsmeow's rule for nack 491).
    var protobufFailed = false
    var failure: SignalError.Code?

    init(message: IncomingMessage, sender: JID, state: ProtocolState, processor: InboundProcessor) {
        self.message = message
        self.processor = processor
        self.state = state
        addressing = SenderAddressing(message, sender: sender, state: state, device: processor.device)
        address = SignalAddress(addressing.decryption)
        senderKeyID = SenderKeyID(group: message.source.chat.description, sender: address)
        consumed = state.consumedPreKeys
        storedType = message.inboxKey.flatMap { state.inbox[$0] }
        if let pair = addressing.newMapping {
            changes.lidMappings.append(pair)
        }
        if let pair = processor.chatMapping(of: message), state.lidByPhoneNumber[pair.phoneNumber] != pair.lid {
            changes.lidMappings.append(pair)
        }
        var sessions = state.sessions
        var identities = state.identities
        var senderKeys = state.senderKeys
        if addressing.needsMigration(state), let from = addressing.phoneNumberName {
            Self.move(from, to: addressing.lidName, sessions: &sessions, identities: &identities, senderKeys: &senderKeys, changes: &changes)
        }
        // A record that does not decode (written by a broken build) is treated as absent, so that a
        // `pkmsg` can start over instead of failing the same way forever.
        record = sessions[address].flatMap { try? SessionRecord(serialized: $0) } ?? SessionRecord()
        identity = identities[address]
        senderKey = senderKeys[senderKeyID].flatMap { try? SenderKeyRecord(serialized: $0) } ?? SenderKeyRecord()
    }

    /// messaging.md §1.3: every session, identity and sender key of the phone number moves to the LID
    /// (the phone number's row wins where both exist, as whatsmeow copies over), and the phone
    /// number's rows are deleted.
    private static func move(
        _ from: String, to: String,
        sessions: inout [SignalAddress: [UInt8]], identities: inout [SignalAddress: [UInt8]],
        senderKeys: inout [SenderKeyID: [UInt8]], changes: inout ProtocolChanges
    ) {
        for (address, bytes) in sessions where address.name == from {
            let target = SignalAddress(name: to, device: address.device)
            sessions[target] = bytes
            sessions[address] = nil
            changes.sessions[target] = bytes
            changes.deletedSessions.insert(address)
        }
        for (address, key) in identities where address.name == from {
            let target = SignalAddress(name: to, device: address.device)
            identities[target] = key
            identities[address] = nil
            changes.identities[target] = key
            changes.deletedIdentities.insert(address)
        }
        for (id, bytes) in senderKeys where id.sender.name == from {
            let target = SenderKeyID(group: id.group, sender: SignalAddress(name: to, device: id.sender.device))
            senderKeys[target] = bytes
            senderKeys[id] = nil
            changes.senderKeys[target] = bytes
            changes.deletedSenderKeys.insert(id)
        }
    }

    /// Decrypts the parts in order; stops at the first failure that is not a duplicate (§2.4 step 7).
    mutating func run(_ parts: [IncomingMessage.EncryptedPart], using generator: inout some RandomNumberGenerator) {
        for part in parts {
            let plaintext: [UInt8]
            do throws(SignalError) {
                guard let decrypted = try decrypt(part, using: &generator) else {
                    continue
                }
                plaintext = decrypted
            } catch where error.code == .duplicate {
                // §2.4 step 6: a key used before — a replayed copy; it still gets its receipt.
                duplicates += 1
                continue
            } catch {
                failure = error.code
                return
            }
            decrypted += 1
            // v3 ("armadillo") and unknown versions are not read, as whatsmeow's default branch.
            guard part.version == 2 else {
                continue
            }
            guard let unpadded = try? MessagePadding.unpad(plaintext) else {
                failure = .invalidPadding
                return
            }
            guard let content = try? MessageContent(decoding: unpadded) else {
                protobufFailed = true
                continue
            }
            protobufFailed = false
            install(content.senderKeyDistribution)
            contents.append(content)
        }
    }

    /// One part's plaintext; nil for a part of a kind that is not decrypted here.
    private mutating func decrypt(
        _ part: IncomingMessage.EncryptedPart, using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> [UInt8]? {
        switch part.type {
        case .preKeyMessage:
            let message = try PreKeyWhisperMessage(parsing: part.ciphertext)
            var base = record
            if let stored = identity, stored != message.identityKey {
                // §2.4 step 5: the peer reinstalled. whatsmeow forgets the old identity's session and
                // trusts the new one; the change is recorded below once the message decrypts.
                base = SessionRecord()
            }
            let device = processor.device
            let consumed = consumed
            let result = try SessionCipher.decrypt(
                message, record: base, local: device.identity,
                signedPreKey: { $0 == device.signedPreKey.id ? device.signedPreKey.keyPair : nil },
                oneTimePreKey: { id in
                    consumed.contains(id) ? nil : try? OneTimePreKeys.keyPair(seed: device.preKeySeed, id: id)
                },
                using: &generator
            )
            if let id = result.consumedOneTimePreKeyID {
                self.consumed.insert(id)
                changes.consumedPreKeys.insert(id)
            }
            accept(result.record, identity: result.remoteIdentityKey)
            return result.plaintext
        case .message:
            let result = try SessionCipher.decrypt(try WhisperMessage(parsing: part.ciphertext), record: record, using: &generator)
            accept(result.record, identity: result.remoteIdentityKey)
            return result.plaintext
        case .senderKeyMessage:
            let result = try GroupCipher.decrypt(try SenderKeyMessage(parsing: part.ciphertext), record: senderKey)
            senderKey = result.record
            senderKeyChanged = true
            return result.plaintext
        default:
            return nil
        }
    }

    /// The advanced session, and its identity: trusted on first use, a change recorded.
    private mutating func accept(_ record: SessionRecord, identity key: [UInt8]) {
        self.record = record
        recordChanged = true
        guard identity != key else {
            return
        }
        if let previous = identity {
            changes.identityChanges.append(ProtocolChanges.IdentityChange(
                address: address, previousFingerprint: IdentityFingerprint.of(previous), newFingerprint: IdentityFingerprint.of(key)
            ))
        }
        identity = key
        changes.identities[address] = key
    }

    /// An SKDM from a group member installs its sender key, before the `skmsg` decrypts (§2.4 step 4).
    /// whatsmeow ignores one outside a group, and one that does not parse.
    private mutating func install(_ distribution: MessageContent.SenderKeyDistribution?) {
        guard let distribution, message.source.isGroup,
              let parsed = try? SenderKeyDistributionMessage(parsing: distribution.message)
        else {
            return
        }
        senderKey = GroupCipher.process(parsed, record: senderKey)
        senderKeyChanged = true
    }

    /// What to commit and answer (§2.4 step 8, §3.1, §5.1).
    func outcome(base: InboundOutcome) -> InboundOutcome {
        var outcome = base
        var changes = changes
        if let storedType {
            // Stored before: its receipts again; nothing was decrypted a second time.
            outcome.changes = changes
            outcome.answers = processor.receipts(for: message, type: storedType).map { .node($0) }
            outcome.report.disposition = .duplicate
            outcome.report.messageType = storedType
            return outcome
        }
        if recordChanged {
            changes.sessions[address] = record.serialized()
        }
        if senderKeyChanged {
            changes.senderKeys[senderKeyID] = senderKey.serialized()
        }
        outcome.report.identityChanges = changes.identityChanges
        if let failure {
            outcome.report.disposition = .decryptFailed(reason: failure.description)
            // A `skmsg` without its sender key and no pairwise part in the stanza: the sender needs a
            // new pairwise session to send the key, so `<keys>` go with the first retry (§5.1).
            let forced = failure == .noSenderKey && !message.hasPairwisePart
            if let count = message.retryReceiptCount(previouslySent: 0) {
                let withKeys = IncomingMessage.retryReceiptIncludesKeys(count: count, forced: forced)
                changes.reservesRetryPreKey = withKeys
                outcome.answers.append(.retryReceipt(message, count: count, withKeys: withKeys))
                outcome.report.retryReceipt = count
            }
            outcome.answers.append(.node(message.envelope.ack()))
            outcome.changes = changes
            return outcome
        }
        if protobufFailed {
            outcome.report.disposition = .refused(.invalidProtobuf)
            outcome.answers = [.node(message.envelope.ack(error: .invalidProtobuf))]
            outcome.changes = changes
            return outcome
        }
        // The stored content: the last part with content of its own, else a bare sender key.
        let content = contents.last { $0.kind != .senderKeyDistribution } ?? contents.last
        if let content, let key = message.inboxKey {
            let type = MessageType.of(content)
            // App-state keys shared by our phone stay out of the inbox: its readers need no keys.
            let raw = type == MessageType.appStateKeyShare ? [] : content.raw
            let row = InboxMessage(
                key: key, sentAt: outcome.report.sentAt ?? Date(timeIntervalSince1970: 0), type: type, text: content.text,
                raw: raw, fromMe: message.source.isFromMe
            )
            changes.message = row
            outcome.report.disposition = .stored
            outcome.report.messageType = type
            outcome.report.message = row
        } else {
            outcome.report.disposition = decrypted == 0 && duplicates > 0 ? .duplicate : .receipted
        }
        outcome.answers = processor.receipts(for: message, type: outcome.report.messageType).map { .node($0) }
        outcome.changes = changes
        return outcome
    }
}
