import Foundation
import Signal
import Synchronization
import WAWire

/// What one send did: the message id every copy carries, how the linked devices see it, and which
/// devices got a copy.
public struct SimSent: Sendable, Hashable {
    public let id: String
    /// The chat as the devices file it: the contact (1:1 and own-phone messages) or the group.
    public let chat: JID
    /// The sending device as the stanza names it (`from` or `participant`): a contact's phone, or the
    /// account's own phone.
    public let sender: JID
    /// The linked devices a copy was queued for, in device order.
    public let devices: [JID]
    /// Linked devices no copy could be encrypted for (no signed prekey known).
    public let unreachable: [JID]
}

/// One linked device's offline queue at an instant.
public struct SimQueueSummary: Sendable, Hashable {
    /// Stanzas sent to it and not answered yet.
    public let pending: Int
    /// When the oldest of them was queued.
    public let oldestQueuedAt: Date?
    /// Stanzas dropped because the queue was full (the device stayed away too long).
    public let dropped: Int
}

extension SimWorld {
    // MARK: Contacts and groups

    /// Adds the contact, or replaces the one with the same phone number (its sessions stay).
    public func addContact(_ contact: SimContact) {
        state.withLock { $0.messaging.contacts[contact.phoneNumber] = contact }
    }

    public func contact(phoneNumber: String) -> SimContact? {
        state.withLock { $0.messaging.contacts[phoneNumber] }
    }

    /// Every contact, by phone number.
    public var contacts: [SimContact] {
        state.withLock { $0.messaging.contacts.values.sorted { $0.phoneNumber < $1.phoneNumber } }
    }

    public func addGroup(_ group: SimGroup) {
        state.withLock { $0.messaging.groups[group.id] = group }
    }

    /// The group with this id (the user part of its JID).
    public func group(id: String) -> SimGroup? {
        state.withLock { $0.messaging.groups[id] }
    }

    /// Every group, by id.
    public var groups: [SimGroup] {
        state.withLock { $0.messaging.groups.values.sorted { $0.id < $1.id } }
    }

    // MARK: Sending

    /// The contact writes `text` to the account: one `<message>` per linked device of the account, each
    /// with its own `pkmsg`/`msg` (messaging.md §2.2), `from` its LID with `sender_pn` (or the reverse
    /// with `.pn`). Copies go live to devices that are online and wait in the queue otherwise.
    public func sendText(
        from contactPhone: String, to accountPhone: String, text: String, addressing: SimAddressing = .lid, now: Date
    ) throws(SimWorldError) -> SimSent {
        try fanOut(now: now) { state throws(SimWorldError) in
            guard let contact = state.messaging.contacts[contactPhone] else {
                throw SimWorldError(.unknownContact)
            }
            guard state.accounts[accountPhone] != nil else {
                throw SimWorldError(.unknownAccount)
            }
            let (from, alternate) = addressing == .lid ? (contact.lid, contact.jid) : (contact.jid, contact.lid)
            let id = MessageID.generate(unixSeconds: Int64(SimConnectionMachine.unixSeconds(now)), ownUser: contact.phoneNumber, using: &state.random)
            var attributes: Node.Attributes = ["from": .jid(from), "id": .string(id), "type": "text"]
            attributes["t"] = .string(SimConnectionMachine.unix(now))
            attributes["notify"] = .string(contact.pushName)
            attributes["addressing_mode"] = .string(addressing.rawValue)
            attributes[addressing == .lid ? "sender_pn" : "sender_lid"] = .jid(alternate)
            return Plan(
                message: SimMessaging.Outgoing(sender: contact.sender, attributes: attributes, content: SimMessaging.text(text), group: nil),
                account: accountPhone, id: id, chat: from, sender: from, isContact: true
            )
        }
    }

    /// The contact writes `text` in the group: each linked device of the group's account gets one
    /// `<message from=group participant=contact>` carrying the contact's SKDM pairwise, then the text as
    /// one `skmsg` (messaging.md §9.2, §9.3; pairwise first).
    public func sendGroupText(in groupID: String, from contactPhone: String, text: String, now: Date) throws(SimWorldError) -> SimSent {
        try fanOut(now: now) { state throws(SimWorldError) in
            guard let group = state.messaging.groups[groupID] else {
                throw SimWorldError(.unknownGroup)
            }
            guard let contact = state.messaging.contacts[contactPhone] else {
                throw SimWorldError(.unknownContact)
            }
            guard group.members.contains(contactPhone) else {
                throw SimWorldError(.notAMember)
            }
            let lid = group.addressing == .lid
            let (participant, alternate) = lid ? (contact.lid, contact.jid) : (contact.jid, contact.lid)
            let id = MessageID.generate(unixSeconds: Int64(SimConnectionMachine.unixSeconds(now)), ownUser: contact.phoneNumber, using: &state.random)
            var attributes: Node.Attributes = ["from": .jid(group.jid), "id": .string(id), "type": "text"]
            attributes["participant"] = .jid(participant)
            attributes["t"] = .string(SimConnectionMachine.unix(now))
            attributes["notify"] = .string(contact.pushName)
            attributes["addressing_mode"] = .string(group.addressing.rawValue)
            attributes[lid ? "participant_pn" : "participant_lid"] = .jid(alternate)
            return Plan(
                message: SimMessaging.Outgoing(sender: contact.sender, attributes: attributes, content: SimMessaging.text(text), group: group.jid),
                account: group.account, id: id, chat: group.jid, sender: participant, isContact: true
            )
        }
    }

    /// The account's own phone writes `text` to the contact: its linked devices get the message as a
    /// DeviceSentMessage (messaging.md §2.7) from the phone (device 0) with `recipient` = the contact.
    public func sendFromPhone(
        of accountPhone: String, to contactPhone: String, text: String, addressing: SimAddressing = .lid, now: Date
    ) throws(SimWorldError) -> SimSent {
        try fanOut(now: now) { state throws(SimWorldError) in
            guard let account = state.accounts[accountPhone] else {
                throw SimWorldError(.unknownAccount)
            }
            guard let contact = state.messaging.contacts[contactPhone] else {
                throw SimWorldError(.unknownContact)
            }
            let phone = account.sender
            let lid = addressing == .lid
            let from = lid ? phone.lid : phone.phone
            let (recipient, alternate) = lid ? (contact.lid, contact.jid) : (contact.jid, contact.lid)
            let id = MessageID.generate(unixSeconds: Int64(SimConnectionMachine.unixSeconds(now)), ownUser: account.phoneNumber, using: &state.random)
            var attributes: Node.Attributes = ["from": .jid(from), "id": .string(id), "type": "text"]
            attributes["recipient"] = .jid(recipient)
            attributes["t"] = .string(SimConnectionMachine.unix(now))
            attributes["addressing_mode"] = .string(addressing.rawValue)
            attributes[lid ? "peer_recipient_pn" : "peer_recipient_lid"] = .jid(alternate)
            return Plan(
                message: SimMessaging.Outgoing(
                    sender: phone, attributes: attributes, content: SimMessaging.deviceSent(text, to: recipient), group: nil
                ),
                account: accountPhone, id: id, chat: recipient, sender: from, isContact: false
            )
        }
    }

    /// What a send resolved to under the lock.
    private struct Plan {
        let message: SimMessaging.Outgoing
        /// Whose linked devices get a copy.
        let account: String
        let id: String
        let chat: JID
        let sender: JID
        let isContact: Bool
    }

    /// Resolves a send, encrypts and queues its copies, then hands them to the devices' connections.
    private func fanOut(
        now: Date, _ plan: (inout State) throws(SimWorldError) -> Plan
    ) throws(SimWorldError) -> SimSent {
        try sending.withLock { _ throws(SimWorldError) -> SimSent in
            let (sent, sender, deliveries, effects) = try state.withLock { state throws(SimWorldError) in
                let plan = try plan(&state)
                let devices = state.devicesByAccount[plan.account] ?? []
                let before = devices.map { state.devices[$0]?.handedOutPreKeys ?? 0 }
                let fanout: SimMessaging.Fanout
                do {
                    fanout = try state.messaging.send(
                        plan.message, to: devices, linked: &state.devices, now: now, random: &state.random, corrupt: planMessageFault
                    )
                } catch {
                    throw SimWorldError(.encryptionFailed)
                }
                let deliveries = devices.compactMap { device in
                    fanout.stanzas[device].flatMap { stanza in Self.target(of: device, in: state).map { ($0, stanza) } }
                }
                let sent = SimSent(
                    id: plan.id, chat: plan.chat, sender: plan.sender,
                    devices: devices.filter { fanout.stanzas[$0] != nil }, unreachable: fanout.unreachable
                )
                let sender = (phone: plan.message.sender.phone.user, isContact: plan.isContact)
                return (sent, sender, deliveries, Self.preKeyEffects(devices, handedOutBefore: before, in: state))
            }
            observer(.messageSent(from: sender.phone, isContact: sender.isContact, devices: sent.devices.count))
            finish(deliveries, effects)
            return sent
        }
    }

    // MARK: For the connections' updates and questions

    /// The connection finished logging in: from now on the device's stanzas go to it. Returns the
    /// queue to replay (nil when the connection is no longer logged in as the device).
    func startDelivery(_ device: JID, connection: SimConnectionID) -> [SimStanza]? {
        state.withLock { state in
            guard state.logins[device]?.contains(connection) == true else {
                return nil
            }
            state.deliveryTargets[device] = connection
            return state.messaging.queue(of: device)
        }
    }

    /// The connection wrote these queued stanzas to the device.
    func offered(_ sequences: [UInt64], to device: JID, connection: SimConnectionID) {
        let redelivered = state.withLock { state -> Int? in
            state.messaging.mailboxes[device]?.offered(sequences)
        }
        if let redelivered {
            observer(.stanzasOffered(connection, device: device, count: sequences.count, redelivered: redelivered))
        }
    }

    /// The device answered a queued stanza: it leaves the queue (nothing when another connection of the
    /// device answered it first).
    func answered(_ sequence: UInt64, by device: JID) {
        let removed = state.withLock { $0.messaging.mailboxes[device]?.remove(sequence) ?? false }
        if removed {
            observer(.stanzaAnswered(device: device))
        }
    }

    /// The device's retry receipt for a queued stanza: its sender encrypts it again for the device
    /// (`SimMessaging.resend`), and the resend is queued and delivered like any stanza.
    func answerRetry(_ retry: SimRetryReceipt, of sequence: UInt64, device: JID, now: Date) {
        sending.withLock { _ in
            let outcome = state.withLock { state -> ((Deliver, SimStanza)?, PreKeyEffects)? in
                let before = [state.devices[device]?.handedOutPreKeys ?? 0]
                let contacts = state.messaging.contacts.values
                let accounts = state.accounts.values
                let senders = { (lid: JID) -> SimSender? in
                    contacts.first { $0.lidUser == lid.user }?.sender ?? accounts.first { $0.lidUser == lid.user }?.sender
                }
                guard let stanza = try? state.messaging.resend(
                    retry, of: sequence, device: device, senders: senders, linked: &state.devices, now: now, random: &state.random
                ) else {
                    return nil
                }
                let delivery = Self.target(of: device, in: state).map { ($0, stanza) }
                return (delivery, Self.preKeyEffects([device], handedOutBefore: before, in: state))
            }
            guard let (delivery, effects) = outcome else {
                return
            }
            observer(.retryAnswered(device: device))
            finish(delivery.map { [$0] } ?? [], effects)
        }
    }

    /// The bundles of `jids` for a device's prekey fetch (messaging.md §6.1): a linked device's (by phone
    /// number or LID) takes its oldest one-time prekey, a contact's phone or an account's own phone
    /// (device 0) its next derived one; each is handed out once. Unknown devices are left out.
    func preKeyBundles(_ jids: [JID]) -> [JID: KeyBundle] {
        sending.withLock { _ in
            let (bundles, effects) = state.withLock { state -> ([JID: KeyBundle], PreKeyEffects) in
                var bundles: [JID: KeyBundle] = [:]
                var contacts: [JID] = []
                var linked: [(asked: JID, device: JID)] = []
                for jid in jids {
                    if let phone = state.messaging.contacts.values.first(where: { $0.isPhone(jid) })?.phoneNumber {
                        bundles[jid] = state.messaging.contacts[phone]?.takeBundle()
                        contacts.append(JID(user: phone, server: .whatsApp))
                    } else if let account = Self.accountOfPhone(jid, in: state) {
                        bundles[jid] = state.takePhoneBundle(of: account)
                    } else if let device = Self.linkedDevice(jid, in: state) {
                        linked.append((jid, device))
                    }
                }
                var devices: [JID] = []
                for (_, device) in linked where !devices.contains(device) {
                    devices.append(device)
                }
                let before = devices.map { state.devices[$0]?.handedOutPreKeys ?? 0 }
                for (asked, device) in linked {
                    bundles[asked] = state.devices[device]?.takeBundle().map(KeyBundle.init)
                }
                var effects = Self.preKeyEffects(devices, handedOutBefore: before, in: state)
                effects.changed += contacts
                return (bundles, effects)
            }
            finish([], effects)
            observer(.preKeyBundlesServed(count: bundles.count))
            return bundles
        }
    }

    /// The linked device a JID names, by phone number or LID (device numbers are shared, §1.3).
    private static func linkedDevice(_ jid: JID, in state: State) -> JID? {
        switch jid.server {
        case .whatsApp:
            return state.devices[jid] == nil ? nil : jid
        case .lid:
            guard let account = state.accounts.values.first(where: { $0.lidUser == jid.user }) else {
                return nil
            }
            let device = JID(user: account.phoneNumber, device: jid.device, server: .whatsApp)
            return state.devices[device] == nil ? nil : device
        default:
            return nil
        }
    }

    // MARK: Statistics

    /// Every linked device's queue that holds or dropped something, by device.
    public func queueSummaries() -> [JID: SimQueueSummary] {
        state.withLock { state in
            state.messaging.mailboxes.compactMapValues { mailbox in
                guard !mailbox.entries.isEmpty || mailbox.dropped > 0 else {
                    return nil
                }
                return SimQueueSummary(
                    pending: mailbox.entries.count, oldestQueuedAt: mailbox.entries.map(\.stanza.queuedAt).min(), dropped: mailbox.dropped
                )
            }
        }
    }

    /// The stanzas queued for `device`, oldest first.
    public func queue(of device: JID) -> [SimStanza] {
        state.withLock { $0.messaging.queue(of: device) }
    }

    // MARK: Helpers

    /// What taking prekeys did: the devices to save, and the live connections to tell the count is low.
    struct PreKeyEffects {
        var changed: [JID] = []
        var low: [(Deliver, Int)] = []
    }

    static func preKeyEffects(_ devices: [JID], handedOutBefore: [Int], in state: State) -> PreKeyEffects {
        var effects = PreKeyEffects()
        for (device, before) in zip(devices, handedOutBefore) {
            guard let linked = state.devices[device], linked.handedOutPreKeys != before else {
                continue
            }
            effects.changed.append(device)
            if linked.availablePreKeys < lowPreKeyCount {
                effects.low += loggedInCallbacks(of: device, in: state, sparing: nil).map { ($0, linked.availablePreKeys) }
            }
        }
        return effects
    }

    /// The callback of the connection that takes `device`'s stanzas now, if any.
    static func target(of device: JID, in state: State) -> Deliver? {
        state.deliveryTargets[device].flatMap { state.connections[$0]?.deliver }
    }

    /// Outside the world's lock (inside `sending`): the stanzas to their connections in queue order, then
    /// the prekey notes.
    func finish(_ deliveries: [(Deliver, SimStanza)], _ effects: PreKeyEffects) {
        for (deliver, stanza) in deliveries {
            deliver(.stanza(stanza))
        }
        if !effects.changed.isEmpty {
            observer(.preKeysChanged(devices: effects.changed))
        }
        for (deliver, available) in effects.low {
            deliver(.preKeysLow(available: available))
        }
    }
}
