/// An inbound `<notification>`, with the payloads the messaging layer acts on read (whatsmeow
/// notification.go, messaging.md §6.3, §7.2, §10).
///
/// Every notification is acked with `envelope.ack()` and no error, whatever its type and even when it
/// cannot be read (whatsmeow acks before it parses; messaging.md §3.1).
public struct IncomingNotification: Hashable, Sendable {
    /// A device added to, removed from or updated in an account's list (`<add>`, `<remove>`, `<update>`).
    public struct DeviceChange: Hashable, Sendable {
        /// The child's tag; an `update` (meaning unknown) should drop the cached list.
        public enum Action: String, Hashable, Sendable {
            case add, remove, update
        }

        /// One `<device jid [lid]>`.
        public struct Device: Hashable, Sendable {
            public let jid: JID
            public let lid: JID?
        }

        public let action: Action
        /// The list's hash after the change (the `DeviceListHash` of all its devices).
        public let deviceHash: String?
        /// The same for the account's LID device list.
        public let deviceLIDHash: String?
        public let devices: [Device]
    }

    /// What the notification says, for the types read here.
    public enum Payload: Hashable, Sendable {
        /// `type="encrypt"` from the server with `<count value>`: one-time prekeys left; refill below 5.
        case preKeyCount(Int)
        /// `type="encrypt"` from a user with `<identity/>`: the user reinstalled; drop all their sessions
        /// and identities (by the Signal address name, both PN and LID forms).
        case identityChange
        /// `type="devices"`: changes to `from`'s device list; `lid` is the account's LID when given.
        case devices([DeviceChange], lid: JID?)
        /// `type="account_sync"` with `<devices dhash>`: our own complete device list.
        case ownDevices([JID], hash: String?)
        /// Any other type, or an `encrypt`/`account_sync` with nothing read here: ack only.
        case other
    }

    /// More list entries than any account has devices.
    public static let maxDevices = 256

    public let envelope: StanzaEnvelope
    public let id: String
    public let from: JID
    public let type: String
    /// `t`, Unix seconds, when present.
    public let timestamp: Int64?
    public let payload: Payload

    public init(_ node: Node) throws(StanzaError) {
        guard node.tag == "notification" else {
            throw StanzaError(.unexpectedTag, at: node.tag)
        }
        envelope = StanzaEnvelope(node)
        id = try node.requiredString("id")
        from = try node.requiredJID("from")
        type = try node.requiredString("type")
        timestamp = try node.optionalInteger("t")
        switch type {
        case "encrypt":
            payload = try Self.encrypt(node, from: from)
        case "devices":
            payload = .devices(try Self.deviceChanges(node), lid: try node.optionalJID("lid"))
        case "account_sync":
            payload = try Self.ownDevices(node)
        default:
            payload = .other
        }
    }

    private static func encrypt(_ node: Node, from: JID) throws(StanzaError) -> Payload {
        if from == .serverJID, let count = node.child("count") {
            guard let value = Int(exactly: try count.requiredInteger("value")), value >= 0 else {
                throw StanzaError(.invalidAttribute, at: "count.value")
            }
            return .preKeyCount(value)
        }
        return node.child("identity") != nil ? .identityChange : .other
    }

    private static func deviceChanges(_ node: Node) throws(StanzaError) -> [DeviceChange] {
        var changes: [DeviceChange] = []
        for child in try node.children(limit: maxDevices) {
            guard let action = DeviceChange.Action(rawValue: child.tag) else {
                continue
            }
            changes.append(DeviceChange(
                action: action,
                deviceHash: try child.optionalString("device_hash"),
                deviceLIDHash: try child.optionalString("device_lid_hash"),
                devices: try child.children(limit: maxDevices).filter { $0.tag == "device" }.map {
                    (device) throws(StanzaError) in
                    DeviceChange.Device(jid: try device.requiredJID("jid"), lid: try device.optionalJID("lid"))
                }
            ))
        }
        return changes
    }

    private static func ownDevices(_ node: Node) throws(StanzaError) -> Payload {
        guard let list = node.child("devices") else {
            return .other
        }
        let devices = try list.children(limit: maxDevices).filter { $0.tag == "device" }.map {
            (device) throws(StanzaError) in try device.requiredJID("jid")
        }
        return .ownDevices(devices, hash: try list.optionalString("dhash"))
    }
}
