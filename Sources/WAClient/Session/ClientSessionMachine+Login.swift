import Foundation
import WAWire

extension ClientSessionMachine {
    /// `<success>` (transport.md §6.2): note the server's clock and our LID, then ask for the prekey count.
    mutating func handleSuccess(_ node: Node, now: Date) -> [Action] {
        guard phase == .loggingIn, var account = credentials.account else {
            return []
        }
        if let offset = Self.serverTimeOffset(node.attribute("t"), now: now) {
            serverTimeOffset = offset
        }
        var session = Session()
        if let lid = Self.jid(node, "lid")?.description, lid != account.lid {
            account.lid = lid
            credentials.account = account
            session.credentialsChanged = true
        }
        connection?.stage = .preparing(session)
        return sendIQ(Node("iq", ["xmlns": "encrypt", "type": "get"], [Node("count")]), for: .preKeyCount)
    }

    /// Uploads prekeys when the server holds too few: all 812 on a first login, else a refill. A failed
    /// count query is not fatal (whatsmeow carries on too); the next login asks again.
    mutating func preKeyCountAnswered(_ outcome: IQOutcome) -> [Action] {
        guard phase == .preparing else {
            return []
        }
        guard case .result(let node) = outcome, let count = node.child("count")?.attribute("value").flatMap({ Int($0) }),
              count >= 0, count < configuration.preKeys.minimumOnServer
        else {
            return sendPassive()
        }
        let isFirstUpload = count == 0 && credentials.nextPreKeyID <= 1
        let size = isFirstUpload ? configuration.preKeys.initialUpload : configuration.preKeys.refill
        return uploadPreKeys(count: size) ?? sendPassive()
    }

    mutating func preKeyUploadAnswered(_ outcome: IQOutcome, nextID: UInt32) -> [Action] {
        guard var session else {
            return []
        }
        session.isUploading = false
        if outcome.isResult {
            credentials.nextPreKeyID = nextID
            session.credentialsChanged = true
        }
        switch phase {
        case .preparing:
            self.session = session
            return sendPassive()
        case .online where session.credentialsChanged:
            session.credentialsChanged = false
            self.session = session
            return [.emit(.credentialsUpdated(credentials))]
        default:
            self.session = session
            return []
        }
    }

    /// The server's low-prekey push (`<notification type="encrypt"><count value/>`): refill below the minimum.
    mutating func handlePreKeyNotification(_ node: Node) -> [Action] {
        guard phase == .online, session?.isUploading == false,
              let count = node.child("count")?.attribute("value").flatMap({ Int($0) }),
              count < configuration.preKeys.minimumOnServer
        else {
            return []
        }
        return uploadPreKeys(count: configuration.preKeys.refill) ?? []
    }

    /// The upload IQ (pairing.md §7.1) for `count` keys from `nextPreKeyID`; nil when the keys cannot be derived.
    private mutating func uploadPreKeys(count: Int) -> [Action]? {
        let ids = OneTimePreKeys.ids(from: credentials.nextPreKeyID, count: count + 1)
        guard count > 0, let nextID = ids.last,
              let identity = try? Curve25519KeyPair(privateKey: credentials.identityKey),
              let signedPreKey = try? Curve25519KeyPair(privateKey: credentials.signedPreKey)
        else {
            return nil
        }
        var keys: [Node] = []
        keys.reserveCapacity(count)
        for id in ids.dropLast() {
            guard let key = try? OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: id) else {
                return nil
            }
            keys.append(Node("key", [Node("id", bytes: Self.bigEndian(id, count: 3)), Node("value", bytes: key.publicKey)]))
        }
        let upload = Node("iq", ["xmlns": "encrypt", "type": "set"], [
            Node("registration", bytes: Self.bigEndian(credentials.registrationID, count: 4)),
            Node("type", bytes: [RegistrationKeys.keyType]),
            Node("identity", bytes: identity.publicKey),
            Node("list", keys),
            Node("skey", [
                Node("id", bytes: Self.bigEndian(credentials.signedPreKeyID, count: 3)),
                Node("value", bytes: signedPreKey.publicKey),
                Node("signature", bytes: credentials.signedPreKeySignature),
            ]),
        ])
        session?.isUploading = true
        return sendIQ(upload, for: .preKeyUpload(nextID: nextID))
    }

    private mutating func sendPassive() -> [Action] {
        sendIQ(Node("iq", ["xmlns": "passive", "type": "set"], [Node("active")]), for: .passive)
    }

    /// The last step of coming online; like whatsmeow, an error answer does not keep the device offline.
    mutating func passiveAnswered() -> [Action] {
        guard case .preparing(var session) = connection?.stage, let account = credentials.account else {
            return []
        }
        var actions: [Action] = []
        if session.credentialsChanged {
            session.credentialsChanged = false
            actions.append(.emit(.credentialsUpdated(credentials)))
        }
        connection?.stage = .online(session)
        actions.append(.emit(.online(OnlineInfo(jid: account.jid, lid: account.lid, serverTimeOffset: serverTimeOffset))))
        return actions
    }

    static func bigEndian(_ value: UInt32, count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
