import Testing
@testable import WAWire

/// Notifications (messaging.md §6.3, §7.2, §10), prekey fetches (§6.1) and usync (§7.1).
@Suite struct MessagingQueryTests {
    typealias F = MessagingFixture

    @Test func encryptNotificationsGivePrekeyCountOrIdentityChange() throws {
        let count = Node("notification", ["from": .server, "type": "encrypt", "id": "1234567", "t": "9"], [Node("count", ["value": "3"])])
        let low = try IncomingNotification(F.wire(count))
        #expect(low.payload == .preKeyCount(3))
        #expect(low.timestamp == 9)
        #expect(low.envelope.ack() == Node("ack", ["class": "notification", "id": "1234567", "to": .server, "type": "encrypt"]))

        let identity = Node("notification", ["from": .jid(F.peerLID), "type": "encrypt", "id": "2"], [Node("identity")])
        #expect(try IncomingNotification(identity).payload == .identityChange)
        // A count from anyone but the server is not a prekey count.
        let spoofed = Node("notification", ["from": .jid(F.peerLID), "type": "encrypt", "id": "3"], [Node("count", ["value": "0"])])
        #expect(try IncomingNotification(spoofed).payload == .other)
    }

    @Test func devicesNotificationListsChangesWithTheirHashes() throws {
        let node = Node("notification", ["from": .jid(F.peerPN), "lid": .jid(F.peerLID), "type": "devices", "id": "4", "t": "1"], [
            Node("add", ["device_hash": "2:abcdefgh", "device_lid_hash": "2:ijklmnop"], [
                Node("device", ["jid": .jid(F.peerPN.withDevice(5)), "lid": .jid(F.peerLID.withDevice(5))]),
                Node("key-index-list", ["ts": "1"], bytes: [1]),
            ]),
            Node("remove", ["device_hash": "2:qrstuvwx"], [Node("device", ["jid": .jid(F.peerPN.withDevice(2))])]),
            Node("update", ["hash": "x"]),
        ])
        let notification = try IncomingNotification(F.wire(node))
        #expect(notification.payload == .devices([
            .init(action: .add, deviceHash: "2:abcdefgh", deviceLIDHash: "2:ijklmnop",
                  devices: [.init(jid: F.peerPN.withDevice(5), lid: F.peerLID.withDevice(5))]),
            .init(action: .remove, deviceHash: "2:qrstuvwx", deviceLIDHash: nil, devices: [.init(jid: F.peerPN.withDevice(2), lid: nil)]),
            .init(action: .update, deviceHash: nil, deviceLIDHash: nil, devices: []),
        ], lid: F.peerLID))
    }

    @Test func accountSyncGivesOurDeviceListAndOthersAreJustAcked() throws {
        let devices = [F.ownPN, F.ownPN.withDevice(7)]
        let node = Node("notification", ["from": .jid(F.ownPN), "type": "account_sync", "id": "5"], [
            Node("devices", ["dhash": .string(DeviceListHash.v2(devices))], devices.map { Node("device", ["jid": .jid($0)]) }),
        ])
        #expect(try IncomingNotification(node).payload == .ownDevices(devices, hash: DeviceListHash.v2(devices)))
        let privacy = Node("notification", ["from": .jid(F.ownPN), "type": "account_sync", "id": "6"], [Node("privacy")])
        #expect(try IncomingNotification(privacy).payload == .other)
        let group = Node("notification", ["from": .jid(F.group), "type": "w:gp2", "id": "7", "participant": .jid(F.peerLID)])
        let parsed = try IncomingNotification(group)
        #expect(parsed.payload == .other)
        #expect(parsed.envelope.ack().attributes["participant"] == .jid(F.peerLID))
    }

    @Test func prekeyQueryAsksForEachDeviceWithReasonIdentity() {
        let query = PreKeyFetch.query(for: [F.peerLID.withDevice(3), F.peerLID])
        #expect(query == Node("iq", ["to": .server, "type": "get", "xmlns": "encrypt"], [
            Node("key", [
                Node("user", ["jid": .jid(F.peerLID.withDevice(3)), "reason": "identity"]),
                Node("user", ["jid": .jid(F.peerLID), "reason": "identity"]),
            ]),
        ]))
    }

    @Test func prekeyAnswerGivesABundleOrAnErrorPerDevice() throws {
        let full = F.bundle(deviceIdentity: nil)
        let signedOnly = F.bundle(preKey: false, deviceIdentity: nil)
        var short = F.bundleUser(F.peerPN.withDevice(1), full)
        short.content = .nodes(short.children.map { $0.tag == "skey" ? Node("skey", Array($0.children.dropLast()) + [Node("signature", bytes: [1])]) : $0 })
        let answer = Node("iq", ["from": .server, "type": "result", "id": "9"], [
            Node("list", [
                F.bundleUser(F.peerLID.withDevice(3), full),
                F.bundleUser(F.peerLID, signedOnly, wrapped: true),
                Node("user", ["jid": .jid(F.peerLID.withDevice(9))], [Node("error", ["code": "404", "text": "item-not-found"])]),
                short,
                Node("user", ["jid": "string-jid"]),
            ]),
        ])
        let bundles = try PreKeyFetch.parse(F.wire(answer))
        #expect(bundles.count == 4)
        #expect(try bundles[F.peerLID.withDevice(3)]?.get() == full)
        #expect(try bundles[F.peerLID]?.get() == signedOnly)
        #expect(Self.error(bundles[F.peerLID.withDevice(9)]) == StanzaError(.errorAnswer, at: "404"))
        #expect(Self.error(bundles[F.peerPN.withDevice(1)]) == StanzaError(.invalidContent, at: "signature"))
    }

    @Test func prekeyAnswerWithoutListIsRefused() {
        let error = F.failure { () throws(StanzaError) in try PreKeyFetch.parse(Node("iq", ["type": "result"])) }
        #expect(error == StanzaError(.missingChild, at: "iq/list"))
        let failed = F.failure { () throws(StanzaError) in
            try PreKeyFetch.parse(Node("iq", ["type": "error"], [Node("error", ["code": "500"])]))
        }
        #expect(failed == StanzaError(.errorAnswer, at: "500"))
        #expect(failed?.nackCode == nil)
    }

    @Test func usyncDeviceQueryUsesUserJIDsAndAFreshSid() {
        let query = USyncQuery.devices(of: [F.peerLID.withDevice(3), F.ownLID], sid: "123.45-6")
        #expect(query == Node("iq", ["to": .server, "type": "get", "xmlns": "usync"], [
            Node("usync", ["sid": "123.45-6", "mode": "query", "last": "true", "index": "0", "context": "message"], [
                Node("query", [Node("devices", ["version": "2"])]),
                Node("list", [Node("user", ["jid": .jid(F.peerLID)]), Node("user", ["jid": .jid(F.ownLID)])]),
            ]),
        ]))
        let lid = USyncQuery.lid(of: [F.peerPN], sid: "s")
        #expect(lid.child("usync")?.attribute("mode") == "full")
        #expect(lid.child("usync")?.attribute("context") == "background")
        #expect(lid.child("usync")?.child("query")?.children == [Node("lid")])
    }

    @Test func usyncAnswerGivesDevicesHostedFormsAndTheLID() throws {
        let answer = Node("iq", ["type": "result", "from": .server], [
            Node("usync", ["sid": "s"], [
                Node("list", [
                    Node("user", ["jid": .jid(F.peerLID)], [
                        Node("devices", [
                            Node("device-list", [
                                Node("device", ["id": "0"]),
                                Node("device", ["id": "3", "key-index": "2"]),
                                Node("device", ["id": "7", "key-index": "5", "is_hosted": "true"]),
                                Node("device", ["id": "x"]),
                            ]),
                            Node("key-index-list", ["ts": "1"], bytes: [1, 2]),
                        ]),
                    ]),
                    Node("user", ["jid": .jid(F.peerPN)], [Node("lid", ["val": .jid(F.peerLID)])]),
                ]),
            ]),
        ])
        let users = try USyncQuery.parse(F.wire(answer))
        #expect(users == [
            .init(jid: F.peerLID, devices: [F.peerLID, F.peerLID.withDevice(3), JID(user: F.peerLID.user, device: 7, server: .hostedLID)], lid: nil),
            .init(jid: F.peerPN, devices: [], lid: F.peerLID),
        ])
    }

    @Test func groupInfoGivesTheMembersInTheGroupsAddressingAnd404Or403() throws {
        let group = JID(user: "120363012345678901", server: .group)
        #expect(GroupInfo.query(group) == Node("iq", ["to": .jid(group), "type": "get", "xmlns": "w:g2"], [
            Node("query", ["request": "interactive"]),
        ]))
        let answer = Node("iq", ["type": "result", "from": .jid(group)], [
            Node("group", ["id": "120363012345678901", "subject": "s", "addressing_mode": "lid"], [
                Node("participant", ["jid": .jid(F.peerLID), "phone_number": .jid(F.peerPN), "type": "admin"]),
                Node("participant", ["jid": .jid(F.peerLID.withDevice(3))]),
                Node("participant", ["jid": "not a jid"]),
                Node("description", [Node("body", bytes: Array("d".utf8))]),
            ]),
        ])
        let found = try GroupInfo.parse(F.wire(answer), group: group)
        #expect(found == .found(GroupInfo(jid: group, addressingMode: .lid, participants: [
            .init(jid: F.peerLID, phoneNumber: F.peerPN, lid: nil),
        ])))
        for (code, expected) in [("404", GroupInfo.Answer.notFound), ("403", .notMember)] {
            let error = Node("iq", ["type": "error", "from": .jid(group)], [Node("error", ["code": .string(code)])])
            #expect(try GroupInfo.parse(error, group: group) == expected)
        }
        #expect(throws: StanzaError.self) {
            try GroupInfo.parse(Node("iq", ["type": "error"], [Node("error", ["code": "500"])]), group: group)
        }
        #expect(throws: StanzaError.self) { try GroupInfo.parse(Node("iq", ["type": "result"]), group: group) }
    }

    static func error(_ result: Result<KeyBundle, StanzaError>?) -> StanzaError? {
        guard case .failure(let error)? = result else {
            return nil
        }
        return error
    }
}
