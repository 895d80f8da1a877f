import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import WAClient
@testable import WASim
import WAWire

@Suite("Simulator control API: contacts, groups and messages")
struct SimControlMessagingTests {
    private struct Problem: Decodable {
        var status: Int
        var code: String
    }

    private struct Contact: Decodable {
        var phone: String
        var jid: String
        var lid: String
        var name: String
        var readReceipts: Bool
        var sent: Int?
        var received: Int?
        var duplicates: Int?
    }

    private struct Sent: Decodable {
        var id: String
        var chat: String
        var sender: String
        var devices: [String]
        var unreachable: [String]
    }

    private struct Group: Decodable {
        var id: String
        var account: String
        var members: [String]
        var addressing: String
    }

    static let device = JID(user: "15550001234", device: 1, server: .whatsApp)

    /// A simulator whose default account (15550001234) has device 1 linked with real keys.
    private func withAPI(_ body: @escaping @Sendable (Simulator, any TestClientProtocol) async throws -> Void) async throws {
        let simulator = try Simulator(configuration: SimConfiguration())
        let account = try #require(simulator.world.account(phoneNumber: "15550001234"))
        var random = SeededRandom(seed: 8)
        let credentials = DeviceCredentials.generate(using: &random)
        simulator.world.link(SimLinkedDevice(
            phoneNumber: account.phoneNumber, deviceID: 1, lidUser: account.lidUser, noisePublicKey: [],
            identityPublicKey: try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey,
            registrationID: credentials.registrationID, keyIndex: 1, linkedAt: Conversation.start, os: "test",
            signedPreKey: SimSignedPreKey(
                id: credentials.signedPreKeyID, publicKey: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey,
                signature: credentials.signedPreKeySignature
            )
        ), connection: SimConnectionID(1))
        let application = Application(router: ControlRoutes(simulator: simulator).router())
        try await application.test(.live) { client in
            try await body(simulator, client)
        }
    }

    private static func json<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(response.body.readableBytesView))
    }

    private static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    private static func expectProblem(_ response: TestResponse, status: HTTPResponse.Status, code: String) throws {
        #expect(response.status == status)
        #expect(response.headers[.contentType] == "application/problem+json")
        #expect(try json(Problem.self, response).code == code)
    }

    @Test func aContactsReadReceiptsAreSetAtCreationOrLaterAndItsReceivedCountsAreListed() async throws {
        try await withAPI { simulator, client in
            try await client.execute(uri: "/contacts", method: .post, body: Self.body(#"{"phone":"15557000001","readReceipts":false}"#)) { response in
                #expect(response.status == .created)
                let contact = try Self.json(Contact.self, response)
                #expect(contact.readReceipts == false)
            }
            #expect(simulator.world.contact(phoneNumber: "15557000001")?.readsMessages == false)
            try await client.execute(uri: "/contacts", method: .post, body: Self.body(#"{"phone":"15557000001","readReceipts":true}"#)) { response in
                #expect(response.status == .ok)
                let contact = try Self.json(Contact.self, response)
                #expect(contact.readReceipts == true)
            }
            #expect(simulator.world.contact(phoneNumber: "15557000001")?.readsMessages == true)
            simulator.stats.record(.messageRead(device: Self.device, contact: "15557000001", outcome: .received, id: "3EB0A1", connection: SimConnectionID(1), at: Date()))
            simulator.stats.record(.messageRead(device: Self.device, contact: "15557000001", outcome: .duplicate, id: "3EB0A1", connection: SimConnectionID(1), at: Date()))
            try await client.execute(uri: "/contacts", method: .get) { response in
                struct Contacts: Decodable { var contacts: [Contact] }
                let contact = try #require(try Self.json(Contacts.self, response).contacts.first)
                #expect(contact.received == 1)
                #expect(contact.duplicates == 1)
                #expect(contact.sent == 0)
            }
            for kind in ["retry_receipt", "rate_overlimit"] {
                try await client.execute(uri: "/faults", method: .post, body: Self.body(#"{"kind":"\#(kind)","device":"\#(Self.device)"}"#)) { response in
                    #expect(response.status == .created)
                }
            }
            // In the order armed.
            #expect(simulator.faults.planSend(device: Self.device.description) == .askRetry)
            #expect(simulator.faults.planSend(device: Self.device.description) == .rateOverlimit)
            #expect(simulator.faults.planSend(device: Self.device.description) == nil)
        }
    }

    @Test func createsAndListsContactsWithTheirOwnNumbers() async throws {
        try await withAPI { _, client in
            try await client.execute(uri: "/contacts", method: .post, body: Self.body("{}")) { response in
                #expect(response.status == .created)
                let contact = try Self.json(Contact.self, response)
                #expect(contact.phone.hasPrefix("1555") && contact.phone.count == 11)
                #expect(contact.lid.hasSuffix("@lid"))
            }
            try await client.execute(uri: "/contacts", method: .post, body: Self.body(#"{"phone":"+1 555 700 0001","name":"Alice"}"#)) { response in
                #expect(response.status == .created)
                let contact = try Self.json(Contact.self, response)
                #expect(contact.phone == "15557000001")
                #expect(contact.jid == "15557000001@s.whatsapp.net")
                #expect(contact.name == "Alice")
            }
            try await client.execute(uri: "/contacts", method: .post, body: Self.body(#"{"phone":"15557000001"}"#)) { response in
                #expect(response.status == .ok)
                let contact = try Self.json(Contact.self, response)
                #expect(contact.name == "Alice")
            }
            try await client.execute(uri: "/contacts", method: .get) { response in
                struct Contacts: Decodable { var contacts: [Contact] }
                let contacts = try Self.json(Contacts.self, response).contacts
                #expect(contacts.count == 2)
                #expect(contacts.allSatisfy { $0.sent == 0 })
            }
            try await client.execute(uri: "/contacts", method: .post, body: Self.body(#"{"phone":"15550001234"}"#)) { response in
                try Self.expectProblem(response, status: .conflict, code: "phone_in_use")
            }
            try await client.execute(uri: "/phones", method: .post, body: Self.body(#"{"phone":"15557000001"}"#)) { response in
                try Self.expectProblem(response, status: .conflict, code: "phone_in_use")
            }
            try await client.execute(uri: "/contacts", method: .post, body: Self.body(#"{"phone":"12"}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_phone_number")
            }
        }
    }

    @Test func aContactWritesToAnAccountAndTheCopyWaitsForTheDevice() async throws {
        try await withAPI { simulator, client in
            let alice = try simulator.contact("15557000001")
            let send = #"{"to":"15550001234","text":"hello"}"#
            try await client.execute(uri: "/contacts/15557000001/send", method: .post, body: Self.body(send)) { response in
                #expect(response.status == .ok)
                let sent = try Self.json(Sent.self, response)
                #expect(sent.id.hasPrefix("3EB0") && sent.id.count == 22)
                #expect(sent.chat == alice.lid.description)
                #expect(sent.sender == alice.lid.description)
                #expect(sent.devices == [Self.device.description])
                #expect(sent.unreachable.isEmpty)
            }
            try await client.execute(uri: "/contacts/15557000001/send", method: .post, body: Self.body(#"{"to":"15550001234","text":"x","addressing":"pn"}"#)) { response in
                let decoded = try Self.json(Sent.self, response)
                #expect(decoded.chat == "15557000001@s.whatsapp.net")
            }
            #expect(simulator.world.queue(of: Self.device).count == 2)

            try await client.execute(uri: "/contacts/15557000001/send", method: .post, body: Self.body(#"{"to":"15550001234","text":""}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_text")
            }
            try await client.execute(uri: "/contacts/15557000009/send", method: .post, body: Self.body(send)) { response in
                try Self.expectProblem(response, status: .notFound, code: "unknown_contact")
            }
            try await client.execute(uri: "/contacts/15557000001/send", method: .post, body: Self.body(#"{"to":"15559999999","text":"x"}"#)) { response in
                try Self.expectProblem(response, status: .notFound, code: "unknown_phone")
            }
            try await client.execute(uri: "/contacts/15557000001/send", method: .post, body: Self.body(#"{"to":"15550001234","text":"x","addressing":"ip"}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_body")
            }
        }
    }

    @Test func groupsAreCreatedListedAndWrittenInByTheirMembersOnly() async throws {
        try await withAPI { simulator, client in
            try simulator.contact("15557000001")
            try simulator.contact("15557000002")
            var groupID = ""
            try await client.execute(uri: "/groups", method: .post, body: Self.body(#"{"account":"15550001234","members":["15557000001"]}"#)) { response in
                #expect(response.status == .created)
                let group = try Self.json(Group.self, response)
                #expect(group.id.hasPrefix("120363") && group.id.hasSuffix("@g.us"))
                #expect(group.members == ["15557000001"])
                #expect(group.addressing == "lid")
                groupID = group.id
            }
            try await client.execute(uri: "/groups", method: .get) { response in
                struct Groups: Decodable { var groups: [Group] }
                let groups = try Self.json(Groups.self, response)
                #expect(groups.groups.map(\.id) == [groupID])
            }
            try await client.execute(uri: "/groups/\(groupID)/send", method: .post, body: Self.body(#"{"from":"15557000001","text":"hi all"}"#)) { response in
                let sent = try Self.json(Sent.self, response)
                #expect(sent.chat == groupID)
                #expect(sent.devices == [Self.device.description])
            }
            let bare = String(groupID.prefix { $0 != "@" })
            try await client.execute(uri: "/groups/\(bare)/send", method: .post, body: Self.body(#"{"from":"15557000002","text":"x"}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "not_a_member")
            }
            try await client.execute(uri: "/groups/120363999999999999@g.us/send", method: .post, body: Self.body(#"{"from":"15557000001","text":"x"}"#)) { response in
                try Self.expectProblem(response, status: .notFound, code: "unknown_group")
            }
            try await client.execute(uri: "/groups", method: .post, body: Self.body(#"{"account":"15550001234","members":["15557000009"]}"#)) { response in
                try Self.expectProblem(response, status: .notFound, code: "unknown_contact")
            }
            try await client.execute(uri: "/groups", method: .post, body: Self.body(#"{"account":"15550001234","members":[]}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_group")
            }
            let skmsg = simulator.world.queue(of: Self.device).last?.node.children.last
            #expect(skmsg?.attribute("type") == "skmsg")
        }
    }

    @Test func theOwnPhoneWritesToAContactAndStatsCountWhatWaits() async throws {
        try await withAPI { simulator, client in
            try simulator.contact("15557000001")
            let account = try #require(simulator.world.account(phoneNumber: "15550001234"))
            try await client.execute(uri: "/phones/15550001234/send", method: .post, body: Self.body(#"{"to":"15557000001","text":"from me"}"#)) { response in
                let sent = try Self.json(Sent.self, response)
                #expect(sent.sender == "\(account.lidUser)@lid")
                #expect(sent.devices == [Self.device.description])
            }
            let queued = try #require(simulator.world.queue(of: Self.device).first)
            #expect(queued.node.attribute("recipient") == simulator.world.contact(phoneNumber: "15557000001")?.lid.description)
            try await client.execute(uri: "/phones/15550001234/send", method: .post, body: Self.body(#"{"to":"15550001234","text":"x"}"#)) { response in
                try Self.expectProblem(response, status: .notFound, code: "unknown_contact")
            }
            _ = try simulator.send(from: "15557000001", to: "15550001234", text: "back")
            try await client.execute(uri: "/stats?devices=1", method: .get) { response in
                let stats = try Self.json(SimStatsSnapshot.self, response)
                #expect(stats.messagesSent == 2)
                #expect(stats.sentByContact == ["15557000001": 1])
                #expect(stats.sentByPhone == ["15550001234": 1])
                #expect(stats.stanzasPending == 2)
                #expect(stats.oldestPendingSeconds != nil)
                let device = try #require(stats.devices?.first { $0.jid == Self.device.description })
                #expect(device.pending == 2)
                #expect(device.offered == 0)
            }
            try await client.execute(uri: "/contacts", method: .get) { response in
                struct Contacts: Decodable { var contacts: [Contact] }
                let contacts = try Self.json(Contacts.self, response)
                #expect(contacts.contacts.first?.sent == 1)
            }
        }
    }

    @Test func anUndecryptableMessageFaultBreaksTheNextCopyForTheDevice() async throws {
        try await withAPI { simulator, client in
            try simulator.contact("15557000001")
            let arm = #"{"kind":"undecryptable_message","device":"15550001234:1@s.whatsapp.net"}"#
            try await client.execute(uri: "/faults", method: .post, body: Self.body(arm)) { response in
                #expect(response.status == .created)
            }
            _ = try simulator.send(from: "15557000001", to: "15550001234", text: "x")
            _ = try simulator.send(from: "15557000001", to: "15550001234", text: "y")
            #expect(simulator.faults.armed.isEmpty)
            #expect(simulator.stats.snapshot().faultsInjected == ["undecryptable_message": 1])
            try await client.execute(uri: "/faults", method: .post, body: Self.body(#"{"kind":"undecryptable_message","device":"x","live":true}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "device_not_targetable")
            }
        }
    }

    @Test func thePageOffersContactsMessagesAndGroups() async throws {
        try await withAPI { _, client in
            try await client.execute(uri: "/", method: .get) { response in
                let page = String(buffer: response.body)
                for needle in ["<form id=\"contact\">", "<form id=\"send\">", "<form id=\"group\">", "<form id=\"group-send\">",
                               "/contacts/", "/phones/", "/groups/", "undecryptable_message"] {
                    #expect(page.contains(needle), "\(needle)")
                }
            }
        }
    }
}
