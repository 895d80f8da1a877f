extension JID {
    /// `status@broadcast`, where status updates are posted (a group-like chat).
    public static let statusBroadcast = JID(user: "status", server: .broadcast)

    /// A person's account or one of its devices: phone number (PN), LID, or their hosted forms.
    public var isUser: Bool {
        switch server {
        case .whatsApp, .lid, .hosted, .hostedLID: true
        default: false
        }
    }

    /// A hidden-user address (`lid` or `hosted.lid`), the primary address since 2025 (messaging.md §1.3).
    public var isLID: Bool {
        server == .lid || server == .hostedLID
    }

    /// A phone-number address (`s.whatsapp.net` or `hosted`).
    public var isPhoneNumber: Bool {
        server == .whatsApp || server == .hosted
    }

    /// A device of a hosted (business API) account; whatsmeow leaves these out of group fan-out.
    public var isHosted: Bool {
        server == .hosted || server == .hostedLID
    }

    public var isGroup: Bool {
        server == .group
    }

    /// `status@broadcast` and broadcast lists: group-like, with a `participant` for the sender.
    public var isBroadcast: Bool {
        server == .broadcast
    }

    public var isNewsletter: Bool {
        server == .newsletter
    }

    /// The same device with `hosted`/`hosted.lid` folded to `s.whatsapp.net`/`lid`, as whatsmeow reads a
    /// DM's sender (messaging.md §2.3).
    public var unhosted: JID {
        var jid = self
        switch server {
        case .hosted: jid.server = .whatsApp
        case .hostedLID: jid.server = .lid
        default: break
        }
        return jid
    }

    /// This account's device `device` (a LID and its phone number share device numbers, messaging.md §1.3).
    public func withDevice(_ device: UInt16) -> JID {
        var jid = self
        jid.device = device
        return jid
    }

    /// The name of this device's Signal address: the user, then `_1` for `lid`, `_128` for `hosted`,
    /// `_129` for `hosted.lid` (whatsmeow `SignalAddressUser`, messaging.md §1.2).
    public var signalAddressName: String {
        let domain = domainType
        return domain == 0 ? user : "\(user)_\(domain)"
    }

    /// `name:device`, the key of this device's sessions and identity in every Signal store: `15551234567:0`,
    /// `123456789012345_1:3`.
    public var signalAddress: String {
        "\(signalAddressName):\(device)"
    }

    /// `user.agent:device@server` with every part written out, the form `phash` and `device_hash` hash
    /// (whatsmeow `ADString`).
    var fullDeviceString: String {
        "\(user).\(rawAgent):\(device)@\(server.rawValue)"
    }
}
