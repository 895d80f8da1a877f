import WAWire

/// Who a group send goes to (messaging.md §9): the group's members from the `w:g2` group-info query,
/// every device of theirs from usync (our own account is a member: our other devices get the sender key
/// like anyone's), and the devices that already hold our current sender key.
public struct GroupFanOut: Hashable, Sendable {
    /// The group JID (`…@g.us`).
    public var group: JID
    /// `lid` groups get `addressing_mode="lid"` on the stanza (whatsmeow sends it only for them).
    public var addressingMode: GroupInfo.AddressingMode
    /// The member users (no device), in the group's addressing.
    public var members: [JID]
    /// Every device of every member, ours included (this device is skipped when encrypting).
    public var devices: [JID]
    /// Devices whose SKDM for our current sender key the server accepted (a send's ack); they get no
    /// SKDM again until the key changes.
    public var holders: Set<JID>

    public init(group: JID, addressingMode: GroupInfo.AddressingMode, members: [JID], devices: [JID], holders: Set<JID>) {
        self.group = group
        self.addressingMode = addressingMode
        self.members = members
        self.devices = devices
        self.holders = holders
    }

    /// Whether a device holding our sender key belongs to a user who is no longer a member: it must not
    /// read what we send next, so the key is replaced (messaging.md §9.3 notes neither library does this;
    /// it closes the gap at the cost of one SKDM per device).
    public var holderLeft: Bool {
        let users = Set(members.map(\.userJID))
        return holders.contains { !users.contains($0.userJID) }
    }
}
