import Foundation
import Testing
import WAClient
import WAWire

@Suite("Disconnect classification")
struct SessionDisconnectClassificationTests {
    private let now = Date(timeIntervalSince1970: 1_760_000_000)

    @Test func failuresWithoutOrWithOddAttributesStillClassify() {
        let version = WebClientVersion.pinned
        // A refusal we cannot read is still a refusal: suspended, like an unknown reason.
        #expect(DisconnectClassification.failure(Node("failure"), now: now, webVersion: version).category.rawValue == "refused")
        #expect(DisconnectClassification.failure(Node("failure", ["reason": "abc"]), now: now, webVersion: version).category.rawValue == "refused")
        let ban = DisconnectClassification.failure(Node("failure", ["reason": "402", "expire": "-5"]), now: now, webVersion: version)
        #expect(ban.banExpiresAt == now)
        let huge = DisconnectClassification.failure(
            Node("failure", ["reason": "402", "expire": "99999999999999"]), now: now, webVersion: version
        )
        #expect(huge.banExpiresAt == now.addingTimeInterval(10 * 365 * 86400))
        let noExpiry = DisconnectClassification.failure(Node("failure", ["reason": "402"]), now: now, webVersion: version)
        #expect(noExpiry.banExpiresAt == nil)
        #expect(noExpiry.category == .temporaryBan)
    }

    @Test func streamErrorsFollowTheProtocolNotes() {
        func category(_ node: Node) -> DisconnectReason.Category {
            DisconnectClassification.streamError(node).category
        }
        #expect(category(Node("stream:error", ["code": "515"])) == .restartRequired)
        #expect(category(Node("stream:error", ["code": "503"])) == .serverError)
        #expect(category(Node("stream:error", ["code": "500"])) == .serverError)
        #expect(category(Node("stream:error", [Node("conflict", ["type": "replaced"])])) == .replaced)
        // ZP's fake server omits the code on device_removed; whatsmeow requires it. Both are a logout.
        #expect(category(Node("stream:error", [Node("conflict", ["type": "device_removed"])])) == .loggedOut)
        // Only device_removed says the link is gone; a bare 401 or 516 suspends rather than wipe it.
        #expect(category(Node("stream:error", ["code": "401"])).rawValue == "refused")
        #expect(category(Node("stream:error", ["code": "516"])).rawValue == "refused")
        #expect(category(Node("stream:error", ["code": "401"], [Node("conflict", ["type": "device_removed"])])) == .loggedOut)
        #expect(category(Node("stream:error", [Node("conflict", ["type": "other"])])) == .other)
        #expect(category(Node("stream:error", [Node("xml-not-well-formed")])) == .other)
        #expect(category(Node("stream:error")) == .other)
        let ack = DisconnectClassification.streamError(Node("stream:error", [Node("ack", ["id": "3EB0AB12", "class": "message"])]))
        #expect(ack.category == .ackRejected)
        #expect(ack.stage == .stream)
        #expect(ack.detail == "the server refused the ack of stanza 3EB0AB12")
        // A code the table knows keeps its meaning, ack or not.
        #expect(category(Node("stream:error", ["code": "515"], [Node("ack", ["id": "1"])])) == .restartRequired)
    }
}
