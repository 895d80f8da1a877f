import Foundation
import Synchronization
import WAWire

/// A group's member list as the simulated server gives it to one asking device (messaging.md §9.1).
public enum SimGroupInfo: Sendable, Hashable {
    case found(SimGroup, members: [SimGroupInfo.Member])
    /// No such group: `404`.
    case notFound
    /// The group exists and the asking device's account is not in it: `403`.
    case notMember

    /// One `<participant>`: its phone number and LID users.
    public struct Member: Sendable, Hashable {
        public let phoneNumber: String
        public let lidUser: String
    }
}

extension SimConnectionMachine {
    /// `<iq to="<group>@g.us" …>`: only the group-info query (`type="get" xmlns="w:g2"` with
    /// `<query request="interactive"/>`) is served; anything else sent to a group is refused.
    mutating func groupRequest(_ node: Node, group: JID, stanzaID: String, now: Date) -> [Action] {
        guard let session else {
            return record(.wrongOrder, "a group query before login", now: now) + errorAnswer(stanzaID, 401, "not-authorized")
        }
        guard node.attribute("type") == "get", node.attribute("xmlns") == "w:g2", node.child("query") != nil,
              let written = node.attributes["to"], group.device == 0
        else {
            return record(.malformedStanza, "an iq to a group that is not the w:g2 group-info query", now: now)
                + errorAnswer(stanzaID, 501, "feature-not-implemented")
        }
        return ask(.groupInfo(session.device, group: group), then: .groupInfo(stanzaID: stanzaID, group: written))
    }

    /// The answer (whatsmeow group.go `parseGroupNode`): `<group id subject creation creator
    /// addressing_mode size>` with one `<participant>` per member — `jid` in the group's addressing,
    /// the other identity as `phone_number` (LID groups) or `lid` (phone-number groups); the account
    /// that owns the group is its creator and `superadmin`. A missing group is `404`, a group of
    /// another account `403`, both `from` the group as asked.
    mutating func groupInfoAnswered(_ stanzaID: String, group: AttributeValue, info: SimGroupInfo, now: Date) -> [Action] {
        switch info {
        case .notFound:
            return groupError(stanzaID, group: group, 404, "item-not-found")
        case .notMember:
            return groupError(stanzaID, group: group, 403, "forbidden")
        case .found(let simGroup, let members):
            let lidMode = simGroup.addressing == .lid
            let participants = members.enumerated().map { index, member -> Node in
                let pn = JID(user: member.phoneNumber, server: .whatsApp)
                let lid = JID(user: member.lidUser, server: .lid)
                var attributes: Node.Attributes = lidMode
                    ? ["jid": .jid(lid), "phone_number": .jid(pn)]
                    : ["jid": .jid(pn), "lid": .jid(lid)]
                if index == 0 {
                    attributes["type"] = "superadmin"
                }
                return Node("participant", attributes)
            }
            let creator = members.first.map { lidMode ? JID(user: $0.lidUser, server: .lid) : JID(user: $0.phoneNumber, server: .whatsApp) }
            var attributes: Node.Attributes = [
                "id": .string(simGroup.id), "subject": .string(simGroup.subject),
                "creation": .string(SimConnectionMachine.unix(simGroup.createdAt)),
                "addressing_mode": .string(simGroup.addressing.rawValue), "size": .string(String(members.count)),
            ]
            attributes["creator"] = creator.map(AttributeValue.jid)
            return send(Node("iq", ["from": group, "type": "result", "id": .string(stanzaID)], [
                Node("group", attributes, participants),
            ]))
        }
    }

    private mutating func groupError(_ stanzaID: String, group: AttributeValue, _ code: Int, _ text: String) -> [Action] {
        send(Node("iq", ["from": group, "type": "error", "id": .string(stanzaID)], [
            Node("error", ["code": .string(String(code)), "text": .string(text)]),
        ]))
    }
}

extension SimWorld {
    /// The member list of `group` for the linked device `device`: the group's account first (it made
    /// the group), then its member contacts in order.
    func groupInfo(_ group: JID, askedBy device: JID) -> SimGroupInfo {
        state.withLock { state in
            guard let simGroup = state.messaging.groups[group.user], group.isGroup else {
                return .notFound
            }
            guard let linked = state.devices[device], linked.phoneNumber == simGroup.account,
                  let account = state.accounts[simGroup.account]
            else {
                return .notMember
            }
            let contacts = simGroup.members.compactMap { state.messaging.contacts[$0] }
            return .found(
                simGroup,
                members: [SimGroupInfo.Member(phoneNumber: account.phoneNumber, lidUser: account.lidUser)]
                    + contacts.map { SimGroupInfo.Member(phoneNumber: $0.phoneNumber, lidUser: $0.lidUser) }
            )
        }
    }
}
