/// One account's two identities, as a stanza revealed them: its LID and its phone number, both without a
/// device (messaging.md §1.3). Store every one found; Signal state is keyed by the LID.
public struct LIDMapping: Hashable, Sendable {
    /// `user@lid`.
    public let lid: JID
    /// `user@s.whatsapp.net`.
    public let phoneNumber: JID

    /// Pairs two addresses of one account in either order; nil unless one is a LID and the other a phone
    /// number (hosted forms are folded first).
    public init?(_ first: JID, _ second: JID) {
        let first = first.unhosted.userJID
        let second = second.unhosted.userJID
        switch (first.server, second.server) {
        case (.lid, .whatsApp):
            lid = first
            phoneNumber = second
        case (.whatsApp, .lid):
            lid = second
            phoneNumber = first
        default:
            return nil
        }
        guard !lid.user.isEmpty, !phoneNumber.user.isEmpty else {
            return nil
        }
    }
}
