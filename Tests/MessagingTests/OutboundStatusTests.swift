import Foundation
import Messaging
import PairgateTestSupport
import Testing
import WAWire

/// What the receive path records of the messages we sent: receipts as statuses, committed before
/// their ack; device notifications drop cached device lists; the server's ack is not answered.
@Suite struct OutboundStatusTests {
    typealias F = ReceiveFixture
    static let peer = JID(user: "123456789012345", device: 3, server: .lid)

    /// The changes the pipeline committed for `stanza` (the memory store keeps nothing of these).
    func changes(for stanza: Node) -> ProtocolChanges {
        let fixture = F()
        var generator = SeededRandom(seed: 1)
        let processor = InboundProcessor(device: fixture.device)
        return processor.process(InboundStanza(stanza, own: fixture.device.account), state: ProtocolState(), using: &generator).changes
    }

    @Test func aDeliveryReceiptWithAListMarksEveryIdDeliveredAtItsTime() {
        let receipt = Node("receipt", ["from": .jid(Self.peer), "id": "A", "t": "1760000600"], [
            Node("list", [Node("item", ["id": "B"]), Node("item", ["id": "C"])]),
        ])
        let at = Date(timeIntervalSince1970: 1_760_000_600)
        #expect(changes(for: receipt).outboundStatuses == ["A", "B", "C"].map {
            OutboundStatusChange(messageID: $0, status: .delivered, at: at)
        })
        let inactive = Node("receipt", ["from": .jid(Self.peer), "id": "A", "t": "1760000600", "type": "inactive"])
        #expect(changes(for: inactive).outboundStatuses.map(\.status) == [.delivered])
    }

    @Test func readAndPlayedAreReadAndOurOwnDevicesReceiptsChangeNothing() {
        for type in ["read", "played"] {
            let receipt = Node("receipt", ["from": .jid(Self.peer), "id": "A", "t": "1760000700", "type": .string(type)])
            #expect(changes(for: receipt).outboundStatuses.map(\.status) == [.read], "\(type)")
        }
        let ownDevice = JID(user: F.ownLID, device: 2, server: .lid)
        for type in ["sender", "read-self", "read"] {
            let receipt = Node("receipt", [
                "from": .jid(ownDevice), "recipient": .jid(Self.peer.userJID), "id": "A", "t": "1760000700", "type": .string(type),
            ])
            #expect(changes(for: receipt).outboundStatuses.isEmpty, "\(type)")
        }
        let retry = Node("receipt", ["from": .jid(Self.peer), "id": "A", "t": "1", "type": "retry"],
                         [Node("retry", ["count": "1", "id": "A", "t": "1", "v": "1"])])
        #expect(changes(for: retry).outboundStatuses.isEmpty)
    }

    @Test func deviceNotificationsDropTheCachedListsTheyChange() {
        let devices = Node("notification", [
            "from": .jid(JID(user: "15551234567", server: .whatsApp)), "lid": .jid(JID(user: "123456789012345", server: .lid)),
            "type": "devices", "id": "N1", "t": "1",
        ], [Node("remove", ["device_hash": "2:abc"], [Node("device", ["jid": .jid(JID(user: "15551234567", device: 3, server: .whatsApp))])])])
        #expect(changes(for: devices).forgottenDeviceLists == ["15551234567@s.whatsapp.net", "123456789012345@lid"])
    }

    @Test func theServersAckOfOurMessageIsNeverAnswered() async throws {
        var fixture = F()
        let ack = Node("ack", ["class": "message", "id": "3EB0AA", "from": .jid(Self.peer.userJID), "t": "1760000500"])
        let result = try await fixture.receive(ack)
        #expect(result.answers.isEmpty)
    }
}
