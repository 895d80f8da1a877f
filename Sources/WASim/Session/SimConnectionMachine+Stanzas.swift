import Foundation
import Signal
import WAWire

extension SimConnectionMachine {
    /// A logged-in device, the order of its first IQs, and the stanzas delivered to it.
    struct LoginSession: Sendable {
        let device: JID
        /// The device as the world had it at login: what its prekey uploads must match.
        let linked: SimLinkedDevice
        var hasQueriedPreKeyCount = false
        var isPassiveSet = false
        /// The queue was replayed (after passive): queued stanzas are written as they come from now on.
        var isDelivering = false
        /// Stanzas written on this connection and not answered yet, oldest first.
        var outstanding: [Outstanding] = []
    }

    /// The largest prekey upload accepted; real clients send 812 at most.
    static let maximumPreKeyUpload = 2000

    // MARK: Login

    /// A login payload: the world decides whether the device is linked with this noise key, then
    /// `<success>` or `<failure>`.
    mutating func login(
        _ handshake: ServerHandshake.Completion, username: UInt64, device deviceNumber: UInt32, now: Date
    ) -> [Action] {
        state = .connected(Connection(transport: handshake.transport, clientStaticKey: handshake.clientStaticKey, stage: .loggingIn))
        guard let deviceID = UInt16(exactly: deviceNumber) else {
            return refuseLogin(reason: 401)
        }
        let jid = JID(user: String(username), device: deviceID, server: .whatsApp)
        if let reason = faults.loginFailure {
            return noteFault("login_failure_\(reason)") + refuseLogin(reason: reason)
        }
        return ask(.login(jid, noiseKey: handshake.clientStaticKey), then: .login(jid))
    }

    /// `<success>` when the world logged the device in, `<failure reason="401">` when it is not linked.
    mutating func loginAnswered(_ jid: JID, linked: SimLinkedDevice?, now: Date) -> [Action] {
        guard case .loggingIn = connection?.stage else {
            return []
        }
        guard let linked else {
            return refuseLogin(reason: 401)
        }
        connection?.stage = .loggedIn(LoginSession(device: jid, linked: linked))
        device = jid
        return send(Node("success", [
            "t": .string(Self.unix(now)),
            "lid": .jid(linked.lid),
            "location": "sim",
            "creation": .string(Self.unix(linked.linkedAt)),
        ]))
    }

    private mutating func refuseLogin(reason: Int) -> [Action] {
        [.update(.note(.loginRefused(id, reason: reason)))] + send(Node("failure", ["reason": .string(String(reason))])) + close()
    }

    // MARK: Stanzas from the client

    mutating func handleNode(_ node: Node, now: Date) -> [Action] {
        switch node.tag {
        case "iq":
            return handleIQ(node, now: now)
        case "ack":
            return handleAck(node, now: now)
        case "receipt":
            return handleReceipt(node, now: now)
        case "message":
            return deviceMessage(node, now: now)
        case "xmlstreamend":
            return close()
        default:
            // ib (unified_session), presence and the rest need no answer from this simulator.
            return []
        }
    }

    private mutating func handleIQ(_ node: Node, now: Date) -> [Action] {
        guard let stanzaID = node.attribute("id"), !stanzaID.isEmpty else {
            return record(.malformedStanza, "an iq without id", now: now)
        }
        switch node.attribute("type") {
        case "result", "error":
            guard let expectation = connection?.expected.removeValue(forKey: stanzaID) else {
                return record(.unexpectedAnswer, "an iq answer to unknown id \(stanzaID)", now: now)
            }
            let cancel: [Action] = [.cancel(.answer(stanzaID))]
            switch expectation {
            case .pairDeviceAck:
                guard node.attribute("type") == "result", node.children.isEmpty else {
                    return cancel + record(.malformedStanza, "pair-device must be answered with an empty result", now: now)
                }
                registration?.isPairDeviceAcknowledged = true
                return cancel
            case .pairSuccessReply:
                return cancel + pairSuccessAnswered(node, now: now)
            case .notificationAck(let type):
                return cancel + record(.malformedStanza, "the \(type) notification was answered with an iq instead of an ack", now: now)
            }
        case "get", "set":
            if case .jid(let to)? = node.attributes["to"], to.isGroup {
                return groupRequest(node, group: to, stanzaID: stanzaID, now: now)
            }
            guard node.attribute("to") == JID.serverJID.description else {
                return record(.malformedStanza, "an iq not addressed to s.whatsapp.net", now: now)
                    + errorAnswer(stanzaID, 400, "bad-request")
            }
            return handleRequest(node, stanzaID: stanzaID, now: now)
        default:
            return record(.malformedStanza, "an iq with type \(node.attribute("type")?.prefix(20) ?? "missing")", now: now)
        }
    }

    private mutating func handleRequest(_ node: Node, stanzaID: String, now: Date) -> [Action] {
        let type = node.attribute("type")
        switch (node.attribute("xmlns"), type) {
        case ("w:p", "get"), ("urn:xmpp:ping", "get"):
            return keepalive(stanzaID, now: now)
        case ("md", "set"):
            if let request = node.child("link_code_companion_reg") {
                return linkCodeRequest(node, registration: request, stanzaID: stanzaID, now: now)
            }
            if let remove = node.child("remove-companion-device") {
                return removeCompanion(remove, stanzaID: stanzaID, now: now)
            }
        case ("encrypt", "get") where node.child("count") != nil:
            return preKeyCount(stanzaID, now: now)
        case ("encrypt", "get") where node.child("key") != nil:
            return preKeyFetch(node, stanzaID: stanzaID, now: now)
        case ("encrypt", "set") where node.child("list") != nil:
            return preKeyUpload(node, stanzaID: stanzaID, now: now)
        case ("passive", "set") where node.child("active") != nil:
            return passive(stanzaID, now: now)
        case ("usync", "get"):
            return usync(node, stanzaID: stanzaID, now: now)
        default:
            break
        }
        return errorAnswer(stanzaID, 501, "feature-not-implemented")
    }

    private mutating func handleAck(_ node: Node, now: Date) -> [Action] {
        guard let stanzaID = node.attribute("id"), let expectation = connection?.expected[stanzaID],
              case .notificationAck(let type) = expectation
        else {
            return handleStanzaAck(node, now: now)
        }
        connection?.expected[stanzaID] = nil
        var actions: [Action] = [.cancel(.answer(stanzaID))]
        if node.attribute("class") != "notification" || node.attribute("type") != type {
            actions += record(.malformedStanza, "the ack of the \(type) notification needs class=notification and type=\(type)", now: now)
        }
        return actions
    }

    // MARK: Answers

    private mutating func keepalive(_ stanzaID: String, now: Date) -> [Action] {
        switch faults.keepalive {
        case .answer:
            return send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID), "t": .string(Self.unix(now))]))
        case .delay(let delay):
            return noteFault("keepalive_delay") + [.schedule(.keepaliveAnswer(stanzaID), after: delay)]
        case .ignore:
            return noteFault("keepalive_ignore")
        }
    }

    private mutating func preKeyCount(_ stanzaID: String, now: Date) -> [Action] {
        guard var session else {
            return record(.wrongOrder, "a prekey count query before login", now: now) + errorAnswer(stanzaID, 401, "not-authorized")
        }
        session.hasQueriedPreKeyCount = true
        self.session = session
        return ask(.availablePreKeys(session.device), then: .preKeyCount(stanzaID: stanzaID))
    }

    mutating func preKeyCountAnswered(_ stanzaID: String, available: Int) -> [Action] {
        send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID)], [
            Node("count", ["value": .string(String(available))]),
        ]))
    }

    /// The most devices one bundle fetch may name (a send asks for every device without a session at once).
    static let maximumFetchedDevices = 1024

    /// `<key><user jid/>…</key>` (messaging.md §6.1): the world hands out each device's bundle, consuming
    /// a one-time prekey.
    private mutating func preKeyFetch(_ node: Node, stanzaID: String, now: Date) -> [Action] {
        guard session != nil else {
            return record(.wrongOrder, "a prekey fetch before login", now: now) + errorAnswer(stanzaID, 401, "not-authorized")
        }
        let users = node.child("key")?.children.filter { $0.tag == "user" } ?? []
        let devices = users.compactMap { $0.jidAttribute("jid") }
        guard !users.isEmpty, users.count <= Self.maximumFetchedDevices, devices.count == users.count else {
            return record(.malformedStanza, "prekey fetch: <key> needs 1...\(Self.maximumFetchedDevices) <user> with a JID", now: now)
                + errorAnswer(stanzaID, 400, "bad-request")
        }
        var unique: [JID] = []
        for device in devices where !unique.contains(device) {
            unique.append(device)
        }
        return ask(.preKeyBundles(unique), then: .preKeyFetch(stanzaID: stanzaID, devices: unique))
    }

    /// The fetch's answer: one `<user>` per device asked for, with its bundle or a 404 `<error>`.
    mutating func preKeyFetchAnswered(_ stanzaID: String, devices: [JID], bundles: [JID: KeyBundle]) -> [Action] {
        let users = devices.map { jid in
            guard let bundle = bundles[jid] else {
                return Node("user", ["jid": .jid(jid)], [Node("error", ["code": "404", "text": "item-not-found"])])
            }
            var children = [
                Node("registration", bytes: Self.bigEndianBytes(bundle.registrationID, count: 4)),
                Node("type", bytes: [RegistrationKeys.keyType]),
                Node("identity", bytes: bundle.identityKey),
                Node("skey", [
                    Node("id", bytes: Self.bigEndianBytes(bundle.signedPreKey.id, count: 3)),
                    Node("value", bytes: bundle.signedPreKey.publicKey),
                    Node("signature", bytes: bundle.signedPreKey.signature),
                ]),
            ]
            if let preKey = bundle.preKey {
                children.append(Node("key", [
                    Node("id", bytes: Self.bigEndianBytes(preKey.id, count: 3)), Node("value", bytes: preKey.publicKey),
                ]))
            }
            return Node("user", ["jid": .jid(jid)], children)
        }
        return send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID)], [Node("list", users)]))
    }

    /// Checks the upload's shape (pairing.md §7.1) against the linked device, then counts the keys.
    private mutating func preKeyUpload(_ node: Node, stanzaID: String, now: Date) -> [Action] {
        guard let session else {
            return record(.wrongOrder, "a prekey upload before login", now: now) + errorAnswer(stanzaID, 401, "not-authorized")
        }
        var actions: [Action] = []
        if !session.hasQueriedPreKeyCount {
            actions += record(.wrongOrder, "a prekey upload before the count query", now: now)
        }
        if let problem = Self.uploadProblem(node, device: session.linked) {
            return actions + record(problem.kind, problem.detail, now: now) + errorAnswer(stanzaID, 400, "bad-request")
        }
        let keys = (node.child("list")?.children ?? []).compactMap { key -> PreKeyBundle.OneTimePreKey? in
            guard let id = key.child("id")?.bytes, let value = key.child("value")?.bytes else {
                return nil
            }
            return PreKeyBundle.OneTimePreKey(id: Self.bigEndian(id), publicKey: value)
        }
        // uploadProblem checked every length and the signature.
        let skey = node.child("skey")
        let signedPreKey = SimSignedPreKey(
            id: Self.bigEndian(skey?.child("id")?.bytes ?? []), publicKey: skey?.child("value")?.bytes ?? [],
            signature: skey?.child("signature")?.bytes ?? []
        )
        return actions + [.update(.recordPreKeyUpload(session.device, keys: keys, signedPreKey: signedPreKey))]
            + send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID)]))
    }

    /// What is wrong with an upload, if anything.
    static func uploadProblem(_ node: Node, device: SimLinkedDevice) -> (kind: SimViolation.Kind, detail: String)? {
        let registration = device.registrationID
        let registrationBytes: [UInt8] = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: registration >> $0) }
        guard node.child("registration")?.bytes == registrationBytes else {
            return (.malformedStanza, "prekey upload: <registration> is not the registered id as 4 bytes")
        }
        guard node.child("type")?.bytes == [RegistrationKeys.keyType] else {
            return (.malformedStanza, "prekey upload: <type> is not 05")
        }
        guard node.child("identity")?.bytes == device.identityPublicKey else {
            return (.badSignature, "prekey upload: <identity> is not the linked identity key")
        }
        guard let keys = node.child("list")?.children, !keys.isEmpty, keys.count <= maximumPreKeyUpload else {
            return (.malformedStanza, "prekey upload: <list> must hold 1...\(maximumPreKeyUpload) keys")
        }
        var ids = Set<[UInt8]>()
        for key in keys {
            guard key.tag == "key", let keyID = key.child("id")?.bytes, keyID.count == 3, keyID != [0, 0, 0],
                  key.child("value")?.bytes?.count == 32
            else {
                return (.malformedStanza, "prekey upload: every <key> needs a 3-byte nonzero <id> and a 32-byte <value>")
            }
            guard ids.insert(keyID).inserted else {
                return (.malformedStanza, "prekey upload: a key id appears twice")
            }
        }
        guard let signedPreKey = node.child("skey"), signedPreKey.child("id")?.bytes?.count == 3,
              let value = signedPreKey.child("value")?.bytes, value.count == 32,
              let signature = signedPreKey.child("signature")?.bytes
        else {
            return (.malformedStanza, "prekey upload: <skey> needs a 3-byte <id>, a 32-byte <value> and a <signature>")
        }
        guard CurveSignature.isValid(signature, for: SignedPreKey.signedMessage(value), publicKey: device.identityPublicKey) else {
            return (.badSignature, "prekey upload: the signed prekey's signature does not verify")
        }
        return nil
    }

    private mutating func passive(_ stanzaID: String, now: Date) -> [Action] {
        guard var session else {
            return record(.wrongOrder, "the passive IQ before login", now: now) + errorAnswer(stanzaID, 401, "not-authorized")
        }
        var actions: [Action] = []
        if !session.hasQueriedPreKeyCount {
            actions += record(.wrongOrder, "the passive IQ before the prekey count query", now: now)
        }
        let startsDelivery = !session.isPassiveSet
        session.isPassiveSet = true
        self.session = session
        actions += send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID)]))
        // Logged in and active: the server replays the offline queue now (pairing.md §9.1 step 15).
        guard startsDelivery else {
            return actions
        }
        // Read receipts that came due while the device was away are queued first, so they replay with the rest.
        return actions + [.update(.releaseReadReceipts(now: now))] + ask(.startDelivery(session.device), then: .delivery)
    }

    /// remove-companion-device (pairing.md §8): only for the device itself; other connections of it are told.
    private mutating func removeCompanion(_ remove: Node, stanzaID: String, now: Date) -> [Action] {
        guard let session else {
            return record(.wrongOrder, "remove-companion-device before login", now: now) + errorAnswer(stanzaID, 401, "not-authorized")
        }
        let jid = remove.jidAttribute("jid") ?? remove.attribute("jid").flatMap { JID(parsing: $0) }
        guard jid == session.device, remove.attribute("reason") != nil else {
            return record(.malformedStanza, "remove-companion-device must name this device's JID and a reason", now: now)
                + errorAnswer(stanzaID, 403, "forbidden")
        }
        return send(Node("iq", ["from": .server, "type": "result", "id": .string(stanzaID)])) + [.update(.removeDevice(session.device))]
    }

    static func bigEndian(_ bytes: [UInt8]) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func bigEndianBytes(_ value: UInt32, count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    mutating func errorAnswer(_ stanzaID: String, _ code: Int, _ text: String) -> [Action] {
        send(Node("iq", ["from": .server, "type": "error", "id": .string(stanzaID)], [
            Node("error", ["code": .string(String(code)), "text": .string(text)]),
        ]))
    }
}
