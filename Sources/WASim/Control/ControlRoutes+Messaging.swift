import Foundation
import Hummingbird
import WAWire

/// Contacts, groups and the messages they and the accounts' phones send to linked devices.
extension ControlRoutes {
    func addMessagingRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.post("/contacts") { request, context in
            let body = try await decode(ContactRequest.self, from: request, context: context)
            let existed = body.phone.flatMap { try? Simulator.normalizedPhone($0) }.flatMap(simulator.world.contact(phoneNumber:)) != nil
            let contact = try await call { () throws(SimulatorError) in
                try simulator.contact(body.phone, name: body.name, readsMessages: body.readReceipts)
            }
            return try json(existed ? .ok : .created, ContactBody(contact, counts: nil))
        }
        router.get("/contacts") { _, _ in
            let stats = simulator.stats.snapshot()
            return try json(.ok, ContactsBody(contacts: simulator.contacts.map { ContactBody($0, counts: stats) }))
        }
        router.post("/contacts/{phone}/send") { request, context in
            let phone = try context.parameters.require("phone")
            let body = try await decode(SendRequest.self, from: request, context: context)
            let sent = try await call { () throws(SimulatorError) in
                try simulator.send(from: phone, to: body.to, text: body.text, addressing: body.addressing ?? .lid)
            }
            return try json(.ok, SentBody(sent))
        }
        router.post("/groups") { request, context in
            let body = try await decode(GroupRequest.self, from: request, context: context)
            let group = try await call { () throws(SimulatorError) in
                try simulator.createGroup(account: body.account, members: body.members, subject: body.subject, addressing: body.addressing ?? .lid)
            }
            return try json(.created, GroupBody(group))
        }
        router.get("/groups") { _, _ in
            try json(.ok, GroupsBody(groups: simulator.groups.map(GroupBody.init)))
        }
        router.post("/groups/{id}/send") { request, context in
            let id = try context.parameters.require("id")
            let body = try await decode(GroupSendRequest.self, from: request, context: context)
            let sent = try await call { () throws(SimulatorError) in try simulator.sendToGroup(id, from: body.from, text: body.text) }
            return try json(.ok, SentBody(sent))
        }
        router.post("/phones/{phone}/send") { request, context in
            let phone = try context.parameters.require("phone")
            let body = try await decode(SendRequest.self, from: request, context: context)
            let sent = try await call { () throws(SimulatorError) in
                try simulator.sendFromPhone(phone, to: body.to, text: body.text, addressing: body.addressing ?? .lid)
            }
            return try json(.ok, SentBody(sent))
        }
    }
}

// MARK: - Bodies

struct ContactRequest: Decodable {
    var phone: String?
    var name: String?
    /// Whether the contact sends read receipts; given for an existing contact, it changes the setting.
    var readReceipts: Bool?
}

struct ContactBody: Encodable {
    var phone: String
    /// `<phone>@s.whatsapp.net`.
    var jid: String
    /// `<lid>@lid`.
    var lid: String
    var name: String
    /// Whether it sends read receipts for what linked devices send it.
    var readReceipts: Bool
    /// In the list only: messages it sent, messages it received from linked devices (new ids), and
    /// the duplicates among those (an id it had already).
    var sent: Int?
    var received: Int?
    var duplicates: Int?

    init(_ contact: SimContact, counts: SimStatsSnapshot?) {
        phone = contact.phoneNumber
        jid = contact.jid.description
        lid = contact.lid.description
        name = contact.pushName
        readReceipts = contact.readsMessages
        sent = counts.map { $0.sentByContact[contact.phoneNumber] ?? 0 }
        received = counts.map { $0.receivedByContact[contact.phoneNumber] ?? 0 }
        duplicates = counts.map { $0.duplicatesByContact[contact.phoneNumber] ?? 0 }
    }
}

struct ContactsBody: Encodable {
    var contacts: [ContactBody]
}

/// A 1:1 send: a contact to an account (`POST /contacts/{phone}/send`), or an account's phone to a
/// contact (`POST /phones/{phone}/send`).
struct SendRequest: Decodable {
    var to: String
    var text: String
    /// `lid` (default) or `pn`.
    var addressing: SimAddressing?
}

struct GroupRequest: Decodable {
    var account: String
    var members: [String]
    var subject: String?
    var addressing: SimAddressing?
}

struct GroupSendRequest: Decodable {
    var from: String
    var text: String
}

struct GroupBody: Encodable {
    /// The group JID, `120363…@g.us`.
    var id: String
    var subject: String
    var account: String
    var members: [String]
    var addressing: SimAddressing
    var createdAt: Date

    init(_ group: SimGroup) {
        id = group.jid.description
        subject = group.subject
        account = group.account
        members = group.members
        addressing = group.addressing
        createdAt = group.createdAt
    }
}

struct GroupsBody: Encodable {
    var groups: [GroupBody]
}

struct SentBody: Encodable {
    /// The message id every device's copy carries.
    var id: String
    var chat: String
    var sender: String
    /// The linked devices a copy was queued for.
    var devices: [String]
    /// Linked devices no copy could be encrypted for.
    var unreachable: [String]

    init(_ sent: SimSent) {
        id = sent.id
        chat = sent.chat.description
        sender = sent.sender.description
        devices = sent.devices.map(\.description)
        unreachable = sent.unreachable.map(\.description)
    }
}
