import Foundation
import Testing
@testable import WAClient
import WAWire

/// Which stanzas the machine answers itself and which it hands to the consumer, and how the consumer's
/// answers go out (messaging.md §3).
@Suite struct SessionStanzaTests {
    static let peer = JID(user: "123456789012345", device: 3, server: .lid)

    /// A login that reached `online` with prekeys to spare (no upload).
    static func online() throws -> ScriptedSession {
        var session = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        try session.receive(Node("success", ["t": "1760000000"]))
        try session.receive(ServerStanzas.result(id: try #require(session.lastIQ(xmlns: "encrypt")?.attribute("id")), [Node("count", ["value": "100"])]))
        try session.receive(ServerStanzas.result(id: try #require(session.lastIQ(xmlns: "passive")?.attribute("id"))))
        #expect(session.eventNames == ["online"])
        session.events = []
        session.sent = []
        return session
    }

    @Test func messagesReceiptsAndStateNotificationsGoToTheConsumerUnanswered() throws {
        var session = try Self.online()
        let stanzas = [
            Node("message", ["from": .jid(Self.peer), "id": "M1", "t": "1"], [Node("enc", ["v": "2", "type": "msg"], bytes: [1])]),
            Node("receipt", ["from": .jid(Self.peer), "id": "R1", "type": "read", "t": "1"]),
            Node("notification", ["from": .jid(Self.peer.userJID), "type": "encrypt", "id": "N1"], [Node("identity")]),
            Node("notification", ["from": .jid(Self.peer.userJID), "type": "devices", "id": "N2"], [Node("add")]),
            Node("notification", ["from": .jid(Self.peer.userJID), "type": "account_sync", "id": "N3"], [Node("devices")]),
        ]
        for stanza in stanzas {
            try session.receive(stanza)
        }
        let delivered = session.events.compactMap { event -> Node? in if case .stanza(let node) = event { node } else { nil } }
        #expect(delivered.map { $0.attribute("id") } == ["M1", "R1", "N1", "N2", "N3"])
        // What the consumer gets is the stanza as decoded: a JID stays a JID, for verbatim answers.
        #expect(delivered.first?.attributes["from"] == .jid(Self.peer))
        #expect(session.sent.isEmpty)
    }

    @Test func callsStatusesAndOtherNotificationsAreAckedAtOnceWithTheirEnvelope() throws {
        var session = try Self.online()
        try session.receive(Node("call", ["from": .jid(Self.peer), "id": "C1", "t": "1"], [Node("offer", ["call-id": "x"])]))
        try session.receive(Node("status", ["from": .jid(Self.peer), "id": "S1", "participant": .jid(Self.peer)]))
        try session.receive(Node("notification", ["from": .jid(JID(user: "120363", server: .group)), "participant": .jid(Self.peer), "type": "w:gp2", "id": "G1"]))
        try session.receive(Node("notification", ["from": .server, "type": "encrypt", "id": "E1"], [Node("count", ["value": "20"])]))
        #expect(session.events.isEmpty)
        #expect(session.sent.map { $0.attribute("class") } == ["call", "status", "notification", "notification"])
        #expect(session.sent[0].attributes["to"] == .jid(Self.peer))
        #expect(session.sent[0].attributes["id"] == "C1")
        #expect(session.sent[1].attributes["participant"] == .jid(Self.peer))
        #expect(session.sent[2].attributes["participant"] == .jid(Self.peer))
        #expect(session.sent[2].attribute("type") == "w:gp2")
        #expect(session.sent[3].attribute("type") == "encrypt")
    }

    @Test func beforeLoginAStateNotificationIsAckedAndAMessageDropped() throws {
        var session = try ScriptedSession(intent: .pair(.qr), credentials: .generate())
        try session.receive(Node("notification", ["from": .jid(Self.peer.userJID), "type": "devices", "id": "N2"]))
        try session.receive(Node("message", ["from": .jid(Self.peer), "id": "M1", "t": "1"]))
        #expect(session.sent.map(\.tag) == ["ack"])
        #expect(!session.eventNames.contains("stanza"))
    }

    @Test func theConsumersAnswersAreWrittenInOrderAsTheyAre() throws {
        var session = try Self.online()
        let receipt = Node("receipt", ["id": "M1", "to": .jid(Self.peer), "type": "inactive"])
        let ack = Node("ack", ["class": "receipt", "id": "R1", "to": .jid(Self.peer), "type": "read"])
        try session.input(.request(ClientRequestID(7), .send([receipt, ack])))
        #expect(session.sent == [receipt, ack])
        #expect(try session.sends[ClientRequestID(7)]?.get() != nil)
    }

    @Test func anAnswerThatCannotBeEncodedSendsNothingOfItsBatch() throws {
        var session = try Self.online()
        try session.input(.request(ClientRequestID(8), .send([Node("receipt", ["id": "M1"]), Node("")])))
        #expect(session.sent.isEmpty)
        #expect(Self.failure(session.sends[ClientRequestID(8)]) == .invalidRequest)
        #expect(!session.isClosed)
    }

    @Test func answersAreRefusedBeforeLoginAndAfterTheClose() throws {
        var pairing = try ScriptedSession(intent: .pair(.qr), credentials: .generate())
        try pairing.input(.request(ClientRequestID(1), .send([Node("ack", ["id": "x"])])))
        #expect(Self.failure(pairing.sends[ClientRequestID(1)]) == .notConnected)
        var session = try Self.online()
        try session.input(.close(DisconnectReason(stage: .local, category: .shutdown, detail: "test")))
        try session.input(.request(ClientRequestID(2), .send([Node("ack", ["id": "x"])])))
        #expect(Self.failure(session.sends[ClientRequestID(2)]) == .connectionClosed)
    }

    static func failure(_ result: Result<Void, ClientRequestError>?) -> ClientRequestError.Code? {
        if case .failure(let error) = result { error.code } else { nil }
    }

    @Test func aStreamErrorAboutAnAckHasItsOwnCategory() throws {
        var session = try Self.online()
        try session.receive(Node("stream:error", [Node("ack", ["id": "3EB0AA", "class": "message"])]))
        #expect(session.closeReason?.category == .ackRejected)
        #expect(session.closeReason?.detail.contains("3EB0AA") == true)
    }
}
