/// A group's member list, asked before a group send (whatsmeow group.go `getGroupInfo`,
/// `parseGroupNode`; messaging.md §9.1).
public struct GroupInfo: Hashable, Sendable {
    /// How the group names its members: by LID (`lid`, the default since 2025) or by phone number (`pn`).
    public enum AddressingMode: String, Hashable, Sendable {
        case lid
        case pn
    }

    /// One `<participant>`: `jid` in the group's addressing, with the other identity when given
    /// (`phone_number` in LID groups, `lid` in phone-number groups).
    public struct Participant: Hashable, Sendable {
        public let jid: JID
        public let phoneNumber: JID?
        public let lid: JID?
    }

    /// How the query ended.
    public enum Answer: Hashable, Sendable {
        case found(GroupInfo)
        /// `404`: there is no such group.
        case notFound
        /// `403`: the group exists and we are not in it (never joined, left or removed).
        case notMember
    }

    /// Members in one answer: WhatsApp groups hold at most 1,024 (communities' announcement groups more).
    public static let maxParticipants = 8192

    /// The group JID (`<id>@g.us`).
    public let jid: JID
    public let addressingMode: AddressingMode
    public let participants: [Participant]

    public init(jid: JID, addressingMode: AddressingMode, participants: [Participant]) {
        self.jid = jid
        self.addressingMode = addressingMode
        self.participants = participants
    }

    /// `<iq to="<group>" type="get" xmlns="w:g2"><query request="interactive"/></iq>`, without `id`.
    public static func query(_ group: JID) -> Node {
        Node("iq", ["to": .jid(group), "type": "get", "xmlns": "w:g2"], [Node("query", ["request": "interactive"])])
    }

    /// Reads the answer to `query(group)`: the members (users without device, in the group's
    /// addressing; whatsmeow reads `jid`, then `phone_number`/`lid`), or 404 / 403. Other error answers,
    /// or a result without `<group>`, throw.
    public static func parse(_ answer: Node, group: JID) throws(StanzaError) -> Answer {
        guard answer.tag == "iq" else {
            throw StanzaError(.unexpectedTag, at: answer.tag)
        }
        if answer.attribute("type") == "error" {
            switch answer.child("error")?.attribute("code") {
            case "404"?: return .notFound
            case "403"?: return .notMember
            case let code: throw StanzaError(.errorAnswer, at: code ?? "iq")
            }
        }
        guard let node = answer.child("group") else {
            throw StanzaError(.missingChild, at: "iq/group")
        }
        var participants: [Participant] = []
        var seen = Set<JID>()
        for child in try node.children(limit: maxParticipants + 64) where child.tag == "participant" {
            guard let jid = try? child.optionalJID("jid"), jid.isUser, seen.insert(jid.userJID).inserted else {
                continue
            }
            guard participants.count < maxParticipants else {
                throw StanzaError(.limitExceeded, at: "group/participant")
            }
            participants.append(Participant(
                jid: jid.userJID,
                phoneNumber: (try? child.optionalJID("phone_number"))?.flatMap { $0.isUser ? $0.userJID : nil },
                lid: (try? child.optionalJID("lid"))?.flatMap { $0.isUser ? $0.userJID : nil }
            ))
        }
        let mode: AddressingMode
        switch node.attribute("addressing_mode") {
        case "pn"?: mode = .pn
        case "lid"?: mode = .lid
        default: mode = participants.allSatisfy(\.jid.isLID) && !participants.isEmpty ? .lid : .pn
        }
        return .found(GroupInfo(jid: group.userJID, addressingMode: mode, participants: participants))
    }
}
