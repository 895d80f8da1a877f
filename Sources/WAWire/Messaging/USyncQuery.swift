/// The usync queries of the messaging layer and their answers (whatsmeow user.go `usync`,
/// `GetUserDevices`, `parseDeviceList`, `GetUserInfo`; messaging.md §7.1).
///
/// Queries are `<iq>` nodes without `id`: the connection assigns it.
public enum USyncQuery {
    /// One `<user>` of the answer.
    public struct User: Hashable, Sendable {
        /// The `jid` as asked (no device).
        public let jid: JID
        /// Every device: the user with each `<device id>`; `is_hosted="true"` moves it to `hosted` /
        /// `hosted.lid`. Empty when the answer had no `<devices>`.
        public let devices: [JID]
        /// `<lid val>`: the account's LID, answering `lidQuery`.
        public let lid: JID?
    }

    /// A user's devices: more would not fit the AD_JID device byte.
    public static let maxDevicesPerUser = 256
    /// Users in one answer; whatsmeow asks for at most a group's members at a time.
    public static let maxUsers = 8192

    /// The device-list query (`mode="query" context="message"`, `<devices version="2"/>`) for `users`,
    /// sent without devices; `sid` is a fresh request id.
    public static func devices(of users: [JID], sid: String) -> Node {
        query(users, sid: sid, mode: "query", context: "message", [Node("devices", ["version": "2"])])
    }

    /// The PN → LID lookup (`mode="full" context="background"`, `<lid/>`), answered by `<lid val>`.
    public static func lid(of users: [JID], sid: String) -> Node {
        query(users, sid: sid, mode: "full", context: "background", [Node("lid")])
    }

    /// Reads the `<iq type="result">` answering either query; users without a JID-form `jid` are skipped,
    /// as whatsmeow does.
    public static func parse(_ answer: Node) throws(StanzaError) -> [User] {
        guard answer.tag == "iq" else {
            throw StanzaError(.unexpectedTag, at: answer.tag)
        }
        if answer.attribute("type") == "error" {
            throw StanzaError(.errorAnswer, at: answer.child("error")?.attribute("code") ?? "iq")
        }
        guard let list = answer.child("usync")?.child("list") else {
            throw StanzaError(.missingChild, at: "usync/list")
        }
        var users: [User] = []
        for child in try list.children(limit: maxUsers) where child.tag == "user" {
            guard case .jid(let jid)? = child.attributes["jid"] else {
                continue
            }
            users.append(User(jid: jid, devices: try devices(of: jid, in: child), lid: try child.child("lid")?.optionalJID("val")))
        }
        return users
    }

    private static func query(_ users: [JID], sid: String, mode: String, context: String, _ protocols: [Node]) -> Node {
        Node("iq", ["to": .server, "type": "get", "xmlns": "usync"], [
            Node("usync", ["sid": .string(sid), "mode": .string(mode), "last": "true", "index": "0", "context": .string(context)], [
                Node("query", protocols),
                Node("list", users.map { Node("user", ["jid": .jid($0.userJID)]) }),
            ]),
        ])
    }

    /// whatsmeow `parseDeviceList`: devices without a numeric id are skipped.
    private static func devices(of user: JID, in node: Node) throws(StanzaError) -> [JID] {
        guard let list = node.child("devices")?.child("device-list") else {
            return []
        }
        var devices: [JID] = []
        for device in try list.children(limit: maxDevicesPerUser) where device.tag == "device" {
            guard let id = try? device.requiredInteger("id"), let number = UInt16(exactly: id) else {
                continue
            }
            var jid = user.userJID.withDevice(number)
            if device.attribute("is_hosted") == "true" {
                jid.server = user.isLID ? .hostedLID : .hosted
            }
            devices.append(jid)
        }
        return devices
    }
}
