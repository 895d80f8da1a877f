import Foundation
import Testing
@testable import WAClient
import WAWire

/// The protocol edge cases where the client was compared with whatsmeow (issue 14, item 10); each
/// decision is recorded in docs/device-lifecycle.md.
@Suite("Client session machine: edge cases")
struct SessionEdgeCaseTests {
    private func registering(seed: UInt64 = 1) throws -> ScriptedSession {
        var random = SeededRandom(seed: seed)
        return try ScriptedSession(intent: .pair(.qr), credentials: DeviceCredentials.generate(using: &random), seed: seed)
    }

    private func loggedIn() throws -> ScriptedSession {
        var session = try ScriptedSession(intent: .login, credentials: ScriptedSession.pairedCredentials())
        try session.receive(Node("success", ["t": "1760000000"]))
        return session
    }

    /// Sends the next keepalive ping and returns its id.
    private func ping(_ session: inout ScriptedSession) throws -> String {
        try session.fire(.keepalive)
        let ping = try #require(session.sent.last { $0.tag == "iq" && $0.attribute("xmlns") == "w:p" })
        return try #require(ping.attribute("id"))
    }

    @Test func aKeepaliveAnsweredWithAnErrorProvesTheLinkAlive() throws {
        var session = try loggedIn()
        let first = try ping(&session)
        try session.fire(.request(first))
        #expect(session.eventNames.last == "keepaliveLost")

        let second = try ping(&session)
        try session.receive(Node("iq", ["from": .server, "type": "error", "id": .string(second)], [
            Node("error", ["code": "500", "text": "internal-server-error"]),
        ]))
        #expect(session.eventNames.last == "keepaliveRestored")
        #expect(session.timers[.keepalive] != nil)
        #expect(!session.isClosed)
    }

    @Test func notificationAcksCopyParticipantAndRecipient() throws {
        var session = try loggedIn()
        let participant = AttributeValue.jid(JID(user: "15550001111", device: 2, server: .whatsApp))
        let recipient = AttributeValue.jid(JID(user: "15552223333", server: .whatsApp))
        // A type the machine answers itself (`devices` goes to the consumer, which acks it the same way).
        try session.receive(Node("notification", [
            "from": .server, "type": "picture", "id": "n1", "participant": participant, "recipient": recipient,
        ]))
        let ack = try #require(session.sent.last)
        #expect(ack.tag == "ack")
        #expect(ack.attribute("class") == "notification")
        #expect(ack.attribute("id") == "n1")
        #expect(ack.attributes["to"] == .server)
        #expect(ack.attributes["participant"] == participant)
        #expect(ack.attributes["recipient"] == recipient)
        #expect(ack.attribute("type") == "picture")
    }

    @Test func pairDeviceFromAnyoneButTheServerIsIgnored() throws {
        var session = try registering()
        for from in [AttributeValue.jid(JID(user: "15551234567", server: .whatsApp)), "g.us", nil] {
            var stanza = ServerStanzas.pairDevice(id: "66")
            stanza.attributes["from"] = from
            try session.receive(stanza)
        }
        #expect(session.sent.isEmpty)
        #expect(session.events.isEmpty)
        #expect(!session.isClosed)
        // The server's own, as text or as a JID, still starts the pairing.
        var text = ServerStanzas.pairDevice(id: "67")
        text.attributes["from"] = "s.whatsapp.net"
        try session.receive(text)
        #expect(session.sent.first?.attribute("id") == "67")
        #expect(session.eventNames == ["qr"])
    }

    @Test func pairSuccessFromAnyoneButTheServerIsIgnored() throws {
        var session = try registering()
        try session.receive(ServerStanzas.pairDevice())
        var success = ServerStanzas.corpus[1]
        success.attributes["from"] = .jid(JID(user: "15551234567", server: .whatsApp))
        let before = session.sent.count
        try session.receive(success)
        #expect(session.confirmations.isEmpty)
        #expect(session.sent.count == before)
        #expect(!session.isClosed)
    }

    /// whatsmeow drops a frame that does not decrypt and reads on, its counter moved past it. One
    /// such frame is dropped here too; a second in a row means the counters are out of step, and
    /// the connection ends (a new handshake starts them over) instead of staying deaf.
    @Test func aFrameThatDoesNotDecryptIsDroppedAndASecondInARowEndsTheConnection() throws {
        var session = try registering()
        var broken = try session.server.frame(ServerStanzas.pairDevice(id: "1"))
        broken[broken.count - 1] ^= 1
        try session.receive(bytes: broken)
        #expect(!session.isClosed)
        // The server's counter moved on with the dropped frame; the next one reads.
        try session.receive(ServerStanzas.pairDevice(id: "2"))
        #expect(session.eventNames == ["qr"])
        #expect(session.sent.first?.attribute("id") == "2")

        for id in ["3", "4"] {
            var frame = try session.server.frame(Node("iq", ["from": .server, "type": "get", "xmlns": "urn:xmpp:ping", "id": .string(id)]))
            frame[frame.count - 1] ^= 1
            try session.receive(bytes: frame)
        }
        #expect(session.closeReason?.stage == .stream)
        #expect(session.closeReason?.category == .protocolViolation)
    }
}
