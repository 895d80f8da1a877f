/// Fetching the key bundles of devices we have no session with (whatsmeow prekeys.go `fetchPreKeys`,
/// messaging.md §6.1).
public enum PreKeyFetch {
    /// Devices in one answer; a send asks for all devices without a session at once.
    public static let maxUsers = 8192

    /// `<iq xmlns="encrypt" type="get"><key><user jid reason="identity"/>…</key></iq>`, one `<user>` per
    /// device, without `id` (the connection assigns it).
    public static func query(for devices: [JID]) -> Node {
        Node("iq", ["to": .server, "type": "get", "xmlns": "encrypt"], [
            Node("key", devices.map { Node("user", ["jid": .jid($0), "reason": "identity"]) }),
        ])
    }

    /// The bundles of the answer's `<list>`, keyed by the exact `jid` of each `<user>` (the bundle's
    /// device is the JID's). A user with an `<error>` or a malformed bundle fails alone; users without a
    /// JID-form `jid` are skipped.
    public static func parse(_ answer: Node) throws(StanzaError) -> [JID: Result<KeyBundle, StanzaError>] {
        guard answer.tag == "iq" else {
            throw StanzaError(.unexpectedTag, at: answer.tag)
        }
        if answer.attribute("type") == "error" {
            throw StanzaError(.errorAnswer, at: answer.child("error")?.attribute("code") ?? "iq")
        }
        guard let list = answer.child("list") else {
            throw StanzaError(.missingChild, at: "iq/list")
        }
        var bundles: [JID: Result<KeyBundle, StanzaError>] = [:]
        for user in try list.children(limit: maxUsers) where user.tag == "user" {
            guard case .jid(let jid)? = user.attributes["jid"] else {
                continue
            }
            bundles[jid] = Result { () throws(StanzaError) in try KeyBundle(parsing: user) }
        }
        return bundles
    }
}
