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
        public let ack: Node
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
    /// Copies for the account's other linked devices are accepted but not relayed.
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
                Self.route(message, from: device, askRetry: fault == .askRetry, delay: readReceiptDelay, now: now, in: &state)
            }
            for (kind, detail) in result.violations {
                record(SimViolation(connection: connection, device: device.description, kind: kind, detail: detail, at: now))
            }
            if result.faultApplied {
                observer(.faultApplied(connection, FaultKind.retryReceipt.rawValue))
            }
            observer(.messageAccepted(device: device))
            for (contact, outcome) in result.outcomes {
                observer(.messageRead(device: device, contact: contact, outcome: outcome))
            }
            finish(result.deliveries, result.effects)
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
    }

    /// Routes every copy to its phone (see `receive`).
    private static func route(
        _ message: SimDeviceMessage, from device: JID, askRetry: Bool, delay: TimeInterval, now: Date, in state: inout State
    ) -> Routed {
        var routed = Routed()
        guard let linked = state.devices[device], let account = state.accounts[linked.phoneNumber] else {
            return routed
        }
        let server: JID.Server = message.to.isLID ? .lid : .whatsApp
        let ownUser = message.to.isLID ? account.lidUser : account.phoneNumber
        let ownDevices = [JID(user: ownUser, server: server)]
            + (state.devicesByAccount[account.phoneNumber] ?? []).map { JID(user: ownUser, device: $0.device, server: server) }
        let chatContact = message.to.isGroup ? nil : state.messaging.contacts.values.first { $0.isPhone(message.to.userJID) }
        // The devices the server expects a copy for (messaging.md §8.5): the peer's and the sender's own.
        routed.phash = DeviceListHash.v2(ownDevices + (chatContact == nil ? [] : [message.to.userJID]))
        var askRetry = askRetry
        for copy in message.copies {
            let target = copy.device
            let receiver: SimReceiver
            var contact: SimContact?
            if let found = state.messaging.contacts.values.first(where: { $0.isPhone(target) }) {
                guard found.phoneNumber == chatContact?.phoneNumber else {
                    routed.violations.append((.malformedStanza, "message \(message.id): a copy for \(target), who is not in the chat \(message.to)"))
                    continue
                }
                guard let contactReceiver = found.receiver else {
                    continue
                }
                receiver = contactReceiver
                contact = found
            } else if target.user == ownUser, target.server == server {
                if target.device == device.device {
                    routed.violations.append((.malformedStanza, "message \(message.id): the sender encrypted a copy for itself (\(target))"))
                    continue
                }
                guard target.device == 0, let phoneReceiver = account.receiver else {
                    // Another linked device of the account: accepted, not relayed by this simulator.
                    continue
                }
                receiver = phoneReceiver
            } else {
                routed.violations.append((.malformedStanza, "message \(message.id): a copy for \(target), outside the chat and the sender's account"))
                continue
            }
            let faulted = askRetry && contact != nil
            if faulted {
                askRetry = false
                routed.faultApplied = true
            }
            let nextPhonePreKey = state.messaging.receiving.phonePreKeyIDs[account.phoneNumber] ?? 1
            let handedOut: (UInt32) -> Bool = { id in
                id >= 1 && id < (contact?.nextPreKeyID ?? nextPhonePreKey)
            }
            let reading = state.messaging.read(
                copy, by: receiver, from: device, identity: linked.identityPublicKey, handedOut: handedOut, commit: !faulted, random: &state.random
            )
            let address = receiver.sender.address
            let retryKey = SimReceiving.RetryKey(receiver: address, device: device, id: message.id)
            var answers: [Node] = []
            var failure: String?
            switch reading {
            case .content, .duplicate: break
            case .failed(let reason): failure = reason
            }
            if failure == nil, !faulted {
                var isNew = false
                if case .content = reading {
                    isNew = state.messaging.receiving.accept(message.id, by: address)
                } else {
                    state.messaging.receiving.inboxes[address, default: SimReceiving.Inbox()].duplicates += 1
                }
                state.messaging.receiving.retries[retryKey] = nil
                routed.outcomes.append((contact?.phoneNumber, isNew ? .received : .duplicate))
                if contact != nil {
                    answers.append(SimMessaging.receipt(from: copy.written, id: message.id, type: nil, at: now))
                    if isNew, contact?.readsMessages == true {
                        state.messaging.receiving.schedule(SimReceiving.PendingRead(
                            due: now.addingTimeInterval(delay), device: device, from: copy.written, id: message.id, phone: receiver.sender.lid
                        ))
                    }
                } else {
                    answers.append(SimMessaging.receipt(from: copy.written, id: message.id, type: "sender", recipient: message.to, at: now))
                }
            } else {
                if let reason = failure {
                    let kind: SimViolation.Kind = reason == "untrusted_identity" ? .badSignature : .malformedStanza
                    routed.violations.append((kind, "message \(message.id): \(contact.map { "contact \($0.phoneNumber)" } ?? "the account's phone") could not decrypt its \(copy.type) (\(reason))"))
                }
                let failedOutcome: SimReceiveOutcome = faulted ? .retryRequested : .undecryptable
                guard let retry = state.messaging.receiving.nextRetry(retryKey, timestamp: SimConnectionMachine.unix(now), now: now) else {
                    routed.outcomes.append((contact?.phoneNumber, failedOutcome))
                    continue
                }
                var bundle: KeyBundle?
                if !state.messaging.hasSession(receiver, with: device) {
                    if let phone = contact?.phoneNumber {
                        bundle = state.messaging.contacts[phone]?.takeBundle()
                        routed.effects.changed.append(JID(user: phone, server: .whatsApp))
                    } else {
                        bundle = state.takePhoneBundle(of: account.phoneNumber)
                    }
                }
                routed.outcomes.append((contact?.phoneNumber, failedOutcome))
                answers.append(SimMessaging.retryReceipt(
                    from: copy.written, id: message.id, retry: retry, registrationID: receiver.sender.registrationID, bundle: bundle, at: now
                ))
            }
            let origin = SimOrigin(sender: receiver.sender.lid, content: [], group: nil)
            for answer in answers {
                let stanza = state.messaging.enqueue(answer, origin: origin, for: device, now: now)
                if let deliver = Self.target(of: device, in: state) {
                    routed.deliveries.append((deliver, stanza))
                }
            }
        }
        routed.nextRead = state.messaging.receiving.pendingReads.first { $0.device == device }?.due
        return routed
    }

    /// The contacts' read receipts due by `now` are queued for their devices and handed to the devices'
    /// connections. Returns when `device`'s next one is due, if any.
    @discardableResult
    func releaseReadReceipts(now: Date, nextFor device: JID? = nil) -> Date? {
        sending.withLock { _ in
            let (deliveries, next) = state.withLock { state -> ([(Deliver, SimStanza)], Date?) in
                var deliveries: [(Deliver, SimStanza)] = []
                for read in state.messaging.receiving.dueReads(at: now) where state.devices[read.device] != nil {
                    let receipt = SimMessaging.receipt(from: read.from, id: read.id, type: "read", at: read.due)
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
