import WAWire

/// One remote device as Signal stores it: the JID user (plus `_<domain>` off `s.whatsapp.net`) and the device.
///
/// The string form is `name:device` (messaging.md §1.2): `15551234567:0`, `123456789012345_1:3` for a LID.
/// It is only a store key: no address enters a KDF, a MAC or a ciphertext.
public struct SignalAddress: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var device: UInt32

    public init(name: String, device: UInt32) {
        self.name = name
        self.device = device
    }

    /// The address whatsmeow and Baileys use for `jid`: `user` on `s.whatsapp.net`, `user_1` on `lid`,
    /// `user_128` / `user_129` on the hosted servers, and the JID's device.
    public init(_ jid: JID) {
        let domain = jid.domainType
        self.init(name: domain == 0 ? jid.user : "\(jid.user)_\(domain)", device: UInt32(jid.device))
    }

    public var description: String { "\(name):\(device)" }
}
