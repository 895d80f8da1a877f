import Foundation
import Synchronization
import WAWire

/// Simulated contacts and groups, and the messages they (and the accounts' own phones) send to the
/// linked devices; the control API's messaging routes call these.
extension Simulator {
    /// The longest text a send takes (WhatsApp allows 65,536 characters; this counts UTF-8 bytes).
    public static let maximumTextSize = 65_536

    // MARK: Contacts

    /// The contact with `phone`, created with fresh keys when there is none (and saved); without a
    /// phone, a new contact with an unused number. `name` is its push name for a new contact;
    /// `readsMessages`, when given, sets whether it sends read receipts (an existing contact's too).
    @discardableResult
    public func contact(_ phone: String? = nil, name: String? = nil, readsMessages: Bool? = nil) throws(SimulatorError) -> SimContact {
        let number = try phone.map { text throws(SimulatorError) in try Self.normalizedPhone(text) }
        let (contact, changed) = try scanState.withLock { _ throws(SimulatorError) -> (SimContact, Bool) in
            var rng = SystemRandomNumberGenerator()
            if let number {
                if var contact = world.contact(phoneNumber: number) {
                    guard let readsMessages, readsMessages != contact.readsMessages else {
                        return (contact, false)
                    }
                    contact.readsMessages = readsMessages
                    world.addContact(contact)
                    return (contact, true)
                }
                guard world.account(phoneNumber: number) == nil else {
                    throw SimulatorError(.phoneInUse, detail: "\(number) is an account of this simulator, not a contact")
                }
            }
            var candidate = number ?? ""
            while candidate.isEmpty || world.contact(phoneNumber: candidate) != nil || world.account(phoneNumber: candidate) != nil {
                candidate = "1555" + String(UInt32.random(in: 1_000_000...9_999_999, using: &rng))
            }
            var contact = SimContact.generate(phoneNumber: candidate, pushName: name, using: &rng)
            contact.readsMessages = readsMessages ?? true
            world.addContact(contact)
            return (contact, true)
        }
        if changed {
            try saveState()
        }
        return contact
    }

    /// Every contact, by phone number.
    public var contacts: [SimContact] { world.contacts }

    // MARK: Groups

    /// A new group of `members` (contacts) with the account of `account`, whose linked devices receive
    /// its messages; saved.
    public func createGroup(
        account: String, members: [String], subject: String? = nil, addressing: SimAddressing = .lid, now: Date = Date()
    ) throws(SimulatorError) -> SimGroup {
        let accountNumber = try Self.normalizedPhone(account)
        guard world.account(phoneNumber: accountNumber) != nil else {
            throw SimulatorError(.unknownPhone, detail: "no phone \(accountNumber) in this simulator")
        }
        guard !members.isEmpty, members.count <= 1024 else {
            throw SimulatorError(.invalidGroup, detail: "a group needs 1 to 1024 member contacts")
        }
        var numbers: [String] = []
        for member in members {
            let number = try Self.normalizedPhone(member)
            guard world.contact(phoneNumber: number) != nil else {
                throw SimulatorError(.unknownContact, detail: "no contact \(number); create it with POST /contacts first")
            }
            if !numbers.contains(number) {
                numbers.append(number)
            }
        }
        var rng = SystemRandomNumberGenerator()
        let group = SimGroup(
            id: SimGroup.newID(using: &rng), subject: subject ?? "Group of \(numbers.count + 1)", account: accountNumber,
            members: numbers, addressing: addressing, createdAt: now
        )
        world.addGroup(group)
        try saveState()
        return group
    }

    /// Every group, by id.
    public var groups: [SimGroup] { world.groups }

    // MARK: Sending

    /// The contact writes `text` to the account (each linked device gets its own copy).
    public func send(
        from contact: String, to account: String, text: String, addressing: SimAddressing = .lid, now: Date = Date()
    ) throws(SimulatorError) -> SimSent {
        let (contactNumber, accountNumber) = (try Self.normalizedPhone(contact), try Self.normalizedPhone(account))
        try Self.checkText(text)
        return try Self.messageError { () throws(SimWorldError) in
            try world.sendText(from: contactNumber, to: accountNumber, text: text, addressing: addressing, now: now)
        }
    }

    /// The contact writes `text` in the group (`id` is the group JID or its user part).
    public func sendToGroup(_ id: String, from contact: String, text: String, now: Date = Date()) throws(SimulatorError) -> SimSent {
        let contactNumber = try Self.normalizedPhone(contact)
        try Self.checkText(text)
        let groupID = JID(parsing: id).flatMap { $0.server == .group ? $0.user : nil } ?? id
        return try Self.messageError { () throws(SimWorldError) in
            try world.sendGroupText(in: groupID, from: contactNumber, text: text, now: now)
        }
    }

    /// The account's own phone writes `text` to the contact; its linked devices get a DeviceSentMessage.
    public func sendFromPhone(
        _ phone: String, to contact: String, text: String, addressing: SimAddressing = .lid, now: Date = Date()
    ) throws(SimulatorError) -> SimSent {
        let (accountNumber, contactNumber) = (try Self.normalizedPhone(phone), try Self.normalizedPhone(contact))
        try Self.checkText(text)
        return try Self.messageError { () throws(SimWorldError) in
            try world.sendFromPhone(of: accountNumber, to: contactNumber, text: text, addressing: addressing, now: now)
        }
    }

    // MARK: Statistics

    /// The counters with each device's queue filled in: `stanzasPending`, `oldestPendingSeconds`, and
    /// per device (`includeDevices`) `pending` and `oldestPendingSeconds`, also for devices that never logged in.
    public func statsSnapshot(includeDevices: Bool = false, now: Date = Date()) -> SimStatsSnapshot {
        var snapshot = stats.snapshot(includeDevices: includeDevices)
        let queues = world.queueSummaries()
        let age = { (queue: SimQueueSummary) in queue.oldestQueuedAt.map { max(0, now.timeIntervalSince($0)) } }
        snapshot.stanzasPending = queues.values.reduce(0) { $0 + $1.pending }
        snapshot.oldestPendingSeconds = queues.values.compactMap(age).max()
        guard var devices = snapshot.devices else {
            return snapshot
        }
        for (jid, queue) in queues {
            let key = jid.description
            if let index = devices.firstIndex(where: { $0.jid == key }) {
                devices[index].pending = queue.pending
                devices[index].oldestPendingSeconds = age(queue)
            } else {
                devices.append(SimStatsSnapshot.Device(
                    jid: key, live: 0, maximum: 0, logins: 0, offered: 0, acked: 0, redelivered: 0, retried: 0, refused: 0,
                    pending: queue.pending, oldestPendingSeconds: age(queue), lastLoginFrom: nil, sent: 0, rateLimited: 0
                ))
            }
        }
        snapshot.devices = devices.sorted { $0.jid < $1.jid }
        return snapshot
    }

    private static func checkText(_ text: String) throws(SimulatorError) {
        guard !text.isEmpty, text.utf8.count <= maximumTextSize else {
            throw SimulatorError(.invalidText, detail: "a text is 1 to \(maximumTextSize) bytes of UTF-8")
        }
    }

    private static func messageError(_ send: () throws(SimWorldError) -> SimSent) throws(SimulatorError) -> SimSent {
        do {
            return try send()
        } catch {
            switch error.code {
            case .unknownContact:
                throw SimulatorError(.unknownContact, detail: "no such contact; create it with POST /contacts")
            case .unknownGroup:
                throw SimulatorError(.unknownGroup, detail: "no such group; create it with POST /groups")
            case .notAMember:
                throw SimulatorError(.notAMember, detail: "the contact is not a member of the group")
            case .unknownAccount:
                throw SimulatorError(.unknownPhone, detail: "no such phone in this simulator")
            default:
                throw SimulatorError(.encryptionFailed, detail: "the sender's keys could not encrypt the message")
            }
        }
    }
}
