import Foundation
import Signal
import Synchronization
import WAWire

/// A fault drawn when a linked device's `<message>` reaches the server.
public enum SimSendFault: Sendable, Hashable {
    /// The server refuses the message: `<ack class="message" error="429"/>` (rate-overlimit).
    case rateOverlimit
    /// The first simulated phone the message reaches pretends it could not decrypt it and asks for a retry.
    case askRetry
    /// The server routes the message as usual, never sends its ack, and holds the phones' answers to
    /// it (receipts) for the device's next login: as if the connection stalled right after the write.
    case withholdAck
}

/// What a simulated phone made of a linked device's copy, for statistics.
public enum SimReceiveOutcome: String, Sendable, Hashable, Codable {
    /// Decrypted, with an id new to the phone.
    case received
    /// An id the phone had already, or a copy whose message key was used already.
    case duplicate
    /// The phone asked for the message again (the retry fault, or a copy it could not decrypt).
    case retryRequested = "retry_requested"
    /// The phone could not decrypt it (a violation is recorded with the reason).
    case undecryptable
}

extension SimWorld {
    /// The server's answer to a linked device's `<message>`, and when the device's next read receipt is due
    /// (the connection times its `.readReceipts` timer by it).
    public struct MessageAnswer: Sendable, Hashable {
        /// Nil when the ack is withheld (the `withhold_ack` fault).
        public let ack: Node?
        public let nextReadReceipt: Date?
    }

    /// The server error for a stanza it cannot read ("smax-invalid", messaging.md §8.5).
    static let invalidStanzaError = 479
    /// The server error for a sender over its rate (whatsmeow's `rate-overlimit` code).
    static let rateOverlimitError = 429

    /// A linked device sent `node` (messaging.md §8): the server reads it, routes every pairwise copy to
    /// the simulated phone it names (a contact's, or the account's own phone for the DeviceSentMessage),
    /// each phone decrypts its copy with its real session and answers with a delivery receipt (and
    /// later a read receipt) or a retry receipt, queued for the device like any stanza; the server
    /// answers with `<ack class="message" id from t phash>` (`error` when it refuses the message).
    /// Copies for the account's other linked devices are relayed to them (1:1 messages). A group message
    /// goes to the group's member contacts (`routeGroup`).
    func receive(_ node: Node, from device: JID, connection: SimConnectionID, now: Date) -> MessageAnswer {
        releaseReadReceipts(now: now)
        let message: SimDeviceMessage
        do {
            message = try SimDeviceMessage(node)
        } catch {
            record(SimViolation(connection: connection, device: device.description, kind: .malformedStanza, detail: "message: \(error.detail)", at: now))
            observer(.messageRefused(device: device, code: Self.invalidStanzaError))
            return MessageAnswer(ack: Self.serverAck(node, phash: nil, error: Self.invalidStanzaError, now: now), nextReadReceipt: nil)
        }
        let fault = planSendFault(device)
        if fault == .rateOverlimit {
            observer(.faultApplied(connection, FaultKind.rateOverlimit.rawValue))
            observer(.messageRefused(device: device, code: Self.rateOverlimitError))
            return MessageAnswer(ack: Self.serverAck(node, phash: nil, error: Self.rateOverlimitError, now: now), nextReadReceipt: nil)
        }
        return sending.withLock { _ in
            let result = state.withLock { state in
                Self.route(
                    message, from: device, askRetry: fault == .askRetry, holdAnswers: fault == .withholdAck, delay: readReceiptDelay, now: now,
                    in: &state
                )
            }
            for (kind, detail) in result.violations {
                record(SimViolation(connection: connection, device: device.description, kind: kind, detail: detail, at: now))
            }
            if result.faultApplied {
                observer(.faultApplied(connection, FaultKind.retryReceipt.rawValue))
            }
            observer(.messageAccepted(device: device))
            for (contact, outcome) in result.outcomes {
                observer(.messageRead(device: device, contact: contact, outcome: outcome, id: message.id, connection: connection, at: now))
            }
            for sibling in result.relayed {
                observer(.messageRelayed(device: device, to: sibling, id: message.id))
            }
            finish(result.deliveries, result.effects)
            if fault == .withholdAck {
                observer(.faultApplied(connection, FaultKind.withholdAck.rawValue))
                return MessageAnswer(ack: nil, nextReadReceipt: result.nextRead)
            }
            return MessageAnswer(ack: Self.serverAck(node, phash: result.phash, error: nil, now: now), nextReadReceipt: result.nextRead)
        }
    }

    /// `<ack class="message" id from t [phash] [error]>` for the device's stanza: `id` and `from` (its `to`)
    /// as the device wrote them.
    static func serverAck(_ node: Node, phash: String?, error: Int?, now: Date) -> Node {
        var attributes: Node.Attributes = ["class": "message"]
        attributes["id"] = node.attributes["id"]
        attributes["from"] = node.attributes["to"]
        attributes["t"] = .string(SimConnectionMachine.unix(now))
        attributes["phash"] = phash.map(AttributeValue.string)
        attributes["error"] = error.map { .string(String($0)) }
        return Node("ack", attributes)
    }

    /// What routing one device message did under the world's lock.
    struct Routed {
        var phash: String?
        var violations: [(SimViolation.Kind, String)] = []
        var outcomes: [(String?, SimReceiveOutcome)] = []
        var deliveries: [(Deliver, SimStanza)] = []
        var effects = PreKeyEffects()
        var faultApplied = false
        var nextRead: Date?
        /// The account's other linked devices a copy was relayed to.
        var relayed: [JID] = []
    }

    /// Routes every copy to its phone (see `receive`).
    private static func route(
        _ message: SimDeviceMessage, from device: JID, askRetry: Bool, holdAnswers: Bool, delay: TimeInterval, now: Date, in state: inout State
    ) -> Routed {
        var routed = Routed()
        guard let linked = state.devices[device], let account = state.accounts[linked.phoneNumber] else {
            return routed
        }
        // The receiving phones refuse a pkmsg whose sender does not prove it belongs to the account (§8.3).
        let identityProblem = message.copies.contains { $0.type == .preKeyMessage }
            ? message.deviceIdentity.flatMap { SimDeviceIdentity.problem($0, account: account, device: linked) }
            : nil
        if let identityProblem {
            routed.violations.append((.badSignature, "message \(message.id): \(identityProblem)"))
        }
        var context = Context(
            message: message, device: device, identity: linked.identityPublicKey, identityProblem: identityProblem, account: account,
            askRetry: askRetry, holdAnswers: holdAnswers, delay: delay, now: now
        )
        if message.to.isGroup {
            routeGroup(&context, in: &state, &routed)
        } else {
            routeDirect(&context, in: &state, &routed)
        }
        routed.nextRead = state.messaging.receiving.pendingReads.first { $0.device == device }?.due
        return routed
    }

    /// What every copy of one message shares.
    struct Context {
        let message: SimDeviceMessage
        let device: JID
        /// The device's identity key as linked: its sessions must use it.
        let identity: [UInt8]
        /// Why the stanza's `<device-identity>` does not prove the device, when it has a `pkmsg` and does not.
        let identityProblem: String?
        let account: SimAccount
        /// The retry fault, until a contact's copy takes it.
        var askRetry: Bool
        /// The phones' answers are queued for the device but not handed to its connection (`withhold_ack`).
        let holdAnswers: Bool
        let delay: TimeInterval
        let now: Date

        /// The account's devices (phone first) in the form of `server`.
        func ownDevices(_ server: JID.Server, in state: State) -> [JID] {
            let user = server == .lid ? account.lidUser : account.phoneNumber
            return [JID(user: user, server: server)]
                + (state.devicesByAccount[account.phoneNumber] ?? []).map { JID(user: user, device: $0.device, server: server) }
        }

        /// Whether `target` is one of the account's devices other than its phone (the sender included).
        func isOwnCompanion(_ target: JID) -> Bool {
            target.device != 0 && (target.user == account.lidUser || target.user == account.phoneNumber)
        }

        /// Takes the retry fault for a contact's copy.
        mutating func takeRetryFault(_ routed: inout Routed) -> Bool {
            guard askRetry else {
                return false
            }
            askRetry = false
            routed.faultApplied = true
            return true
        }
    }

    /// A 1:1 message: the chat's contact's phone and the account's own phone (DeviceSentMessage) read their copies.
    private static func routeDirect(_ context: inout Context, in state: inout State, _ routed: inout Routed) {
        let message = context.message
        let chatContact = state.messaging.contacts.values.first { $0.isPhone(message.to.userJID) }
        let server: JID.Server = message.to.isLID ? .lid : .whatsApp
        // The devices the server expects a copy for (messaging.md §8.5): the peer's and the sender's own.
        routed.phash = DeviceListHash.v2(context.ownDevices(server, in: state) + (chatContact == nil ? [] : [message.to.userJID]))
        for copy in message.copies {
            let target = copy.device
            if let contact = state.messaging.contacts.values.first(where: { $0.isPhone(target) }) {
                guard contact.phoneNumber == chatContact?.phoneNumber, let receiver = contact.receiver else {
                    routed.violations.append((.malformedStanza, "message \(message.id): a copy for \(target), who is not in the chat \(message.to)"))
                    continue
                }
                let faulted = context.takeRetryFault(&routed)
                let reading = read(copy, by: receiver, contact: contact, context, commit: !faulted, in: &state)
                settle(faulted ? .failed("retry_fault") : reading, faulted: faulted, by: receiver, contact: contact,
                       phone: Phone(from: copy.written, participant: nil), context, in: &state, &routed)
            } else if let owner = accountOfPhone(target, in: state), owner == context.account.phoneNumber, let receiver = context.account.receiver {
                let reading = read(copy, by: receiver, contact: nil, context, commit: true, in: &state)
                settle(reading, faulted: false, by: receiver, contact: nil, phone: Phone(from: copy.written, participant: nil), context, in: &state, &routed)
            } else if context.isOwnCompanion(target) {
                if target.device == context.device.device {
                    ownCompanionCopy(target, context, &routed)
                } else {
                    relay(copy, context, in: &state, &routed)
                }
            } else {
                routed.violations.append((.malformedStanza, "message \(message.id): a copy for \(target), outside the chat and the sender's account"))
            }
        }
    }

    /// A group message (messaging.md §9.2, §9.3): every member contact's phone installs the SKDM its
    /// pairwise copy carries, then reads the `skmsg` with the device's sender key (a pairwise resend
    /// carries the content itself). Receipts name the group and the member (`participant`).
    private static func routeGroup(_ context: inout Context, in state: inout State, _ routed: inout Routed) {
        let message = context.message
        guard let group = state.messaging.groups[message.to.user], group.account == context.account.phoneNumber else {
            routed.violations.append((.malformedStanza, "message \(message.id): \(message.to) is not a group of the sender's account"))
            return
        }
        let server: JID.Server = group.addressing == .lid ? .lid : .whatsApp
        let members = group.members.compactMap { state.messaging.contacts[$0] }
        let memberJID = { (contact: SimContact) in server == .lid ? contact.lid : contact.jid }
        routed.phash = DeviceListHash.v2(context.ownDevices(server, in: state) + members.map(memberJID))
        var copies: [String: SimDeviceMessage.Copy] = [:]
        for copy in message.copies {
            if let contact = members.first(where: { $0.isPhone(copy.device) }) {
                copies[contact.phoneNumber] = copy
            } else if accountOfPhone(copy.device, in: state) == context.account.phoneNumber || context.isOwnCompanion(copy.device) {
                // The account's phone and other devices read the group themselves; not simulated.
                ownCompanionCopy(copy.device, context, &routed)
            } else {
                routed.violations.append((.malformedStanza, "message \(message.id): a copy for \(copy.device), who is not in \(message.to)"))
            }
        }
        for contact in members {
            guard let receiver = contact.receiver else {
                continue
            }
            let copy = copies[contact.phoneNumber]
            let key = SimReceiving.SenderKeyKey(receiver: receiver.sender.address, group: group.jid, device: context.device)
            guard copy != nil || (message.senderKeyMessage != nil && state.messaging.receiving.senderKeys[key] != nil) else {
                // Neither a copy nor a key to read the skmsg with: the device left this member out.
                continue
            }
            let phone = Phone(from: .jid(group.jid), participant: copy?.written ?? .jid(memberJID(contact)))
            let faulted = copy != nil && context.takeRetryFault(&routed)
            var reading: SimMessaging.Reading?
            if let copy {
                let pairwise = read(copy, by: receiver, contact: contact, context, commit: !faulted, in: &state)
                reading = pairwise
                if case .content(let content) = pairwise, let distribution = content.senderKeyDistribution {
                    if !faulted, distribution.groupID == group.jid.description {
                        state.messaging.receiving.install(distribution, for: key)
                    }
                    // The first message's carrier holds only the SKDM: the text is in the skmsg. A resend holds both.
                    if content.kind == .senderKeyDistribution {
                        reading = nil
                    }
                }
            }
            if reading == nil {
                reading = message.senderKeyMessage.map { state.messaging.receiving.readGroup($0, for: key) } ?? .failed("no_skmsg")
            }
            settle(faulted ? .failed("retry_fault") : reading ?? .failed("no_skmsg"), faulted: faulted, by: receiver, contact: contact,
                   phone: phone, context, in: &state, &routed)
        }
    }

    /// A copy for another of the account's devices in a group, or for the sender itself: the sender's own
    /// is a violation (whatsmeow skips its own device); the others are accepted and not relayed (the
    /// account's devices read a group from its own stanzas, not simulated).
    private static func ownCompanionCopy(_ target: JID, _ context: Context, _ routed: inout Routed) {
        if target.device == context.device.device {
            routed.violations.append((.malformedStanza, "message \(context.message.id): the sender encrypted a copy for itself (\(target))"))
        }
    }

    /// A copy for another linked device of the account, relayed as the server does (messaging.md §2.7):
    /// `<message from="<the sending device>" recipient="<the chat>" id t type>` with the copy's `<enc>`
    /// (and `<device-identity>` with a `pkmsg`), queued for that device like any stanza. Its delivery
    /// receipt (`type="sender"`) answers it; the sender sees nothing of it.
    private static func relay(_ copy: SimDeviceMessage.Copy, _ context: Context, in state: inout State, _ routed: inout Routed) {
        let sibling = JID(user: context.account.phoneNumber, device: copy.device.device, server: .whatsApp)
        guard state.devices[sibling] != nil else {
            routed.violations.append((.malformedStanza, "message \(context.message.id): a copy for \(copy.device), which is not linked"))
            return
        }
        let message = context.message
        let from = message.to.isLID ? context.account.sender.lid.withDevice(context.device.device) : context.device
        var attributes: Node.Attributes = ["from": .jid(from), "id": .string(message.id), "type": .string(message.type)]
        attributes["recipient"] = .jid(message.to)
        attributes["t"] = .string(SimConnectionMachine.unix(context.now))
        if let pn = message.peerRecipientPN {
            attributes["peer_recipient_pn"] = .jid(pn)
        }
        var children = [Node("enc", ["v": "2", "type": .string(copy.type.rawValue)], bytes: copy.ciphertext)]
        if copy.type == .preKeyMessage, let identity = message.deviceIdentity {
            children.append(Node("device-identity", bytes: identity))
        }
        let origin = SimOrigin(sender: from, content: [], group: nil, relayed: true)
        let stanza = state.messaging.enqueue(Node("message", attributes, children), origin: origin, for: sibling, now: context.now)
        routed.relayed.append(sibling)
        if let deliver = target(of: sibling, in: state) {
            routed.deliveries.append((deliver, stanza))
        }
    }

    /// How a phone is named in its answers: `from` (and `participant` in a group) as the device wrote them.
    struct Phone {
        let from: AttributeValue
        let participant: AttributeValue?
    }

    private static func read(
        _ copy: SimDeviceMessage.Copy, by receiver: SimReceiver, contact: SimContact?, _ context: Context, commit: Bool, in state: inout State
    ) -> SimMessaging.Reading {
        if copy.type == .preKeyMessage, context.identityProblem != nil {
            return .failed("invalid_device_identity")
        }
        let nextPhonePreKey = state.messaging.receiving.phonePreKeyIDs[context.account.phoneNumber] ?? 1
        let limit = contact?.nextPreKeyID ?? nextPhonePreKey
        return state.messaging.read(
            copy, by: receiver, from: context.device, identity: context.identity, handedOut: { $0 >= 1 && $0 < limit },
            commit: commit, random: &state.random
        )
    }

    /// The phone's answer to what it made of the message: a delivery receipt (then, for a contact that
    /// reads messages, a read receipt later) for content or a duplicate; a retry receipt for a copy it
    /// could not (or, with the retry fault, would not) read. Each answer is queued for the device.
    private static func settle(
        _ reading: SimMessaging.Reading, faulted: Bool, by receiver: SimReceiver, contact: SimContact?, phone: Phone,
        _ context: Context, in state: inout State, _ routed: inout Routed
    ) {
        let message = context.message
        let address = receiver.sender.address
        let retryKey = SimReceiving.RetryKey(receiver: address, device: context.device, id: message.id)
        var answers: [Node] = []
        switch reading {
        case .content, .duplicate:
            var isNew = false
            if case .content = reading {
                isNew = state.messaging.receiving.accept(message.id, by: address)
            } else {
                state.messaging.receiving.inboxes[address, default: SimReceiving.Inbox()].duplicates += 1
            }
            state.messaging.receiving.retries[retryKey] = nil
            routed.outcomes.append((contact?.phoneNumber, isNew ? .received : .duplicate))
            if let contact {
                answers.append(SimMessaging.receipt(from: phone.from, participant: phone.participant, id: message.id, type: nil, at: context.now))
                if isNew, contact.readsMessages {
                    state.messaging.receiving.schedule(SimReceiving.PendingRead(
                        due: context.now.addingTimeInterval(context.delay), device: context.device, from: phone.from,
                        participant: phone.participant, id: message.id, phone: receiver.sender.lid
                    ))
                }
            } else {
                answers.append(SimMessaging.receipt(
                    from: phone.from, participant: nil, id: message.id, type: "sender", recipient: message.to, at: context.now
                ))
            }
        case .failed(let reason):
            if !faulted, reason != "invalid_device_identity" {
                let kind: SimViolation.Kind = reason == "untrusted_identity" ? .badSignature : .malformedStanza
                let who = contact.map { "contact \($0.phoneNumber)" } ?? "the account's phone"
                routed.violations.append((kind, "message \(message.id): \(who) could not read its copy (\(reason))"))
            }
            let outcome: SimReceiveOutcome = faulted ? .retryRequested : .undecryptable
            routed.outcomes.append((contact?.phoneNumber, outcome))
            guard let retry = state.messaging.receiving.nextRetry(retryKey, timestamp: SimConnectionMachine.unix(context.now), now: context.now) else {
                break
            }
            var bundle: KeyBundle?
            if !state.messaging.hasSession(receiver, with: context.device) {
                if let phoneNumber = contact?.phoneNumber {
                    bundle = state.messaging.contacts[phoneNumber]?.takeBundle()
                    routed.effects.changed.append(JID(user: phoneNumber, server: .whatsApp))
                } else {
                    bundle = state.takePhoneBundle(of: context.account.phoneNumber)
                }
            }
            answers.append(SimMessaging.retryReceipt(
                from: phone.from, participant: phone.participant, id: message.id, retry: retry,
                registrationID: receiver.sender.registrationID, bundle: bundle, at: context.now
            ))
        }
        let origin = SimOrigin(sender: receiver.sender.lid, content: [], group: nil)
        for answer in answers {
            let stanza = state.messaging.enqueue(answer, origin: origin, for: context.device, now: context.now)
            if !context.holdAnswers, let deliver = target(of: context.device, in: state) {
                routed.deliveries.append((deliver, stanza))
            }
        }
    }

    /// The contacts' read receipts due by `now` are queued for their devices and handed to the devices'
    /// connections. Returns when `device`'s next one is due, if any.
    @discardableResult
    func releaseReadReceipts(now: Date, nextFor device: JID? = nil) -> Date? {
        sending.withLock { _ in
            let (deliveries, next) = state.withLock { state -> ([(Deliver, SimStanza)], Date?) in
                var deliveries: [(Deliver, SimStanza)] = []
                for read in state.messaging.receiving.dueReads(at: now) where state.devices[read.device] != nil {
                    let receipt = SimMessaging.receipt(from: read.from, participant: read.participant, id: read.id, type: "read", at: read.due)
                    let stanza = state.messaging.enqueue(receipt, origin: SimOrigin(sender: read.phone, content: [], group: nil), for: read.device, now: now)
                    if let deliver = Self.target(of: read.device, in: state) {
                        deliveries.append((deliver, stanza))
                    }
                }
                let next = device.flatMap { device in state.messaging.receiving.pendingReads.first { $0.device == device }?.due }
                return (deliveries, next)
            }
            finish(deliveries, PreKeyEffects())
            return next
        }
    }

    /// The account whose phone (device 0) `jid` names, by phone number or LID.
    static func accountOfPhone(_ jid: JID, in state: State) -> String? {
        guard jid.device == 0 else {
            return nil
        }
        switch jid.server {
        case .whatsApp:
            return state.accounts[jid.user] == nil ? nil : jid.user
        case .lid:
            return state.accounts.values.first { $0.lidUser == jid.user }?.phoneNumber
        default:
            return nil
        }
    }
}

extension SimWorld.State {
    /// The account's phone's bundle with its next one-time prekey (handed out once).
    mutating func takePhoneBundle(of phone: String) -> KeyBundle? {
        let id = messaging.receiving.phonePreKeyIDs[phone] ?? 1
        messaging.receiving.phonePreKeyIDs[phone] = id >= 0xFF_FFFF ? 1 : id + 1
        return accounts[phone]?.phoneBundle(preKeyID: id)
    }
}
