import Foundation
import WAWire

/// A simulated group: contacts who write in it, and one account whose linked devices read it.
public struct SimGroup: Sendable, Hashable, Codable {
    /// The user part of the group JID, `120363…` as WhatsApp numbers groups.
    public var id: String
    public var subject: String
    /// The phone number of the account that is a member: its linked devices receive every message.
    public var account: String
    /// The contacts' phone numbers, in the order they were given.
    public var members: [String]
    /// `lid` groups name a sender by LID with `participant_pn` beside it; `pn` groups the other way round.
    public var addressing: SimAddressing
    public var createdAt: Date

    public init(id: String, subject: String, account: String, members: [String], addressing: SimAddressing = .lid, createdAt: Date) {
        self.id = id
        self.subject = subject
        self.account = account
        self.members = members
        self.addressing = addressing
        self.createdAt = createdAt
    }

    /// `<id>@g.us`.
    public var jid: JID { JID(user: id, server: .group) }

    /// A new group id: `120363` and twelve random digits.
    static func newID(using rng: inout some RandomNumberGenerator) -> String {
        "120363" + String(UInt64.random(in: 100_000_000_000...999_999_999_999, using: &rng))
    }
}

/// How a contact's messages name their sender (messaging.md §2.2): by LID with the phone number in
/// `sender_pn`/`participant_pn`, as WhatsApp does in 2026, or by phone number with the LID beside it.
public enum SimAddressing: String, Sendable, Hashable, Codable, CaseIterable {
    case lid
    case pn
}
