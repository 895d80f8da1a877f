import Foundation
import WAWire

extension SimConnectionMachine {
    /// A usync query as the server reads it (messaging.md §7.1): the `<usync>` attributes to echo, which
    /// protocols were asked, and the users in order with their `jid` as written.
    struct USyncRequest: Sendable {
        let attributes: Node.Attributes
        let wantsDevices: Bool
        let wantsLID: Bool
        let users: [(jid: JID, written: AttributeValue)]

        /// Reads `<usync …><query>…</query><list><user jid/>…</list></usync>`; the error is a violation's detail.
        init(_ iq: Node) throws(SimDeviceMessage.Problem) {
            guard let usync = iq.child("usync"), let query = usync.child("query"), let list = usync.child("list") else {
                throw SimDeviceMessage.Problem("usync: the iq needs <usync> with <query> and <list>")
            }
            let users = list.children
            guard !users.isEmpty, users.count <= USyncQuery.maxUsers else {
                throw SimDeviceMessage.Problem("usync: <list> must hold 1...\(USyncQuery.maxUsers) <user>")
            }
            var parsed: [(jid: JID, written: AttributeValue)] = []
            for user in users {
                guard user.tag == "user", let jid = user.jidAttribute("jid"), let written = user.attributes["jid"], jid.isUser else {
                    throw SimDeviceMessage.Problem("usync: every <user> needs a JID-form jid of a user")
                }
                parsed.append((jid, written))
            }
            attributes = usync.attributes
            wantsDevices = query.child("devices") != nil
            wantsLID = query.child("lid") != nil
            guard wantsDevices || wantsLID else {
                throw SimDeviceMessage.Problem("usync: <query> asks for neither <devices> nor <lid>")
            }
            self.users = parsed
        }
    }

    // MARK: Messages the device sends

    /// A `<message>` from the logged-in device: the world routes it to the simulated phones and says what
    /// the server answers.
    mutating func deviceMessage(_ node: Node, now: Date) -> [Action] {
        guard let session else {
            return record(.wrongOrder, "a message before login", now: now)
        }
        return ask(.deviceMessage(session.device, node, now: now), then: .messageAck)
    }

    /// The server's `<ack class="message">` (none when it is withheld); the read receipts timer follows the next one due.
    mutating func messageAnswered(_ answer: SimWorld.MessageAnswer, now: Date) -> [Action] {
        var actions: [Action] = []
        if let ack = answer.ack {
            actions = send(ack)
        }
        return actions + scheduleReadReceipts(answer.nextReadReceipt, now: now)
    }

    /// The contacts' read receipts for this device are due: the world queues them; the timer follows the next.
    mutating func readReceiptsDue(now: Date) -> [Action] {
        guard let session else {
            return []
        }
        return ask(.readReceipts(session.device, now: now), then: .readReceipts)
    }

    func scheduleReadReceipts(_ due: Date?, now: Date) -> [Action] {
        guard let due else {
            return []
        }
        return [.schedule(.readReceipts, after: .milliseconds(Int64(max(0, due.timeIntervalSince(now)) * 1000)))]
    }

    // MARK: usync

    /// `<iq xmlns="usync" type="get">`: the world says which devices each user has.
    mutating func usync(_ node: Node, stanzaID: String, now: Date) -> [Action] {
        guard session != nil else {
            return record(.wrongOrder, "a usync query before login", now: now) + errorAnswer(stanzaID, 401, "not-authorized")
        }
        let request: USyncRequest
        do {
            request = try USyncRequest(node)
        } catch {
            return record(.malformedStanza, error.detail, now: now) + errorAnswer(stanzaID, 400, "bad-request")
        }
        return ask(.deviceLists(request.users.map(\.jid.userJID)), then: .usync(stanzaID: stanzaID, request: request))
    }

    /// The answer (messaging.md §7.1): per user as asked, `<devices><device-list>` (device 0, then each
    /// linked device with `key-index`) and `<key-index-list>` when the account has companions, and
    /// `<lid val>` when asked. A user the simulator does not know gets an empty device list.
    mutating func usyncAnswered(_ stanzaID: String, request: USyncRequest, lists: [JID: SimDeviceList]) -> [Action] {
        let users = request.users.map { user -> Node in
            let list = lists[user.jid.userJID]
            var children: [Node] = []
            if request.wantsDevices {
                var devices = [Node("device-list", (list?.devices ?? []).map { device in
                    var attributes: Node.Attributes = ["id": .string(String(device.id))]
                    attributes["key-index"] = device.keyIndex.map { .string(String($0)) }
                    return Node("device", attributes)
                })]
                if let keyIndex = list?.keyIndexList {
                    devices.append(Node("key-index-list", ["ts": .string(String(keyIndex.timestamp))], bytes: keyIndex.signed))
                }
                children.append(Node("devices", devices))
            }
            if request.wantsLID, let lid = list?.lid {
                children.append(Node("lid", ["val": .jid(lid)]))
            }
            return Node("user", ["jid": user.written], children)
        }
        return send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID)], [
            Node("usync", request.attributes, [Node("list", users)]),
        ]))
    }
}
