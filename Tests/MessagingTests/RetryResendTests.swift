import DevicePool
import Foundation
import Messaging
import PairgateTestSupport
import Signal
import Testing
import WAClient
import WAWire

/// Answering a peer's retry receipt for a message we sent: encrypted again for that device only.
@Suite struct RetryResendTests {
    typealias F = SendFixture

    /// Ann's companion asks again for `id`, as a retry receipt (with `<keys>` when given).
    static func retry(_ id: String, from peer: F.Peer, count: Int, keys: KeyBundle?) throws -> RetryRequest {
        var children = [
            Node("retry", ["count": .string(String(count)), "id": .string(id), "t": "1760000100", "v": "1"]),
            Node("registration", bytes: KeyBundle.bigEndianForTests(peer.credentials.registrationID)),
        ]
        if let keys {
            children.append(Node("keys", keys.keyNodesForTests()))
        }
        let node = Node("receipt", ["from": .jid(peer.jid), "id": .string(id), "type": "retry", "t": "1760000200"], children)
        let own = OwnAccount(phoneNumber: JID(user: F.ownPhoneNumber, device: 7, server: .whatsApp), lid: F.ownDevice)
        return try #require(try IncomingReceipt(node.onTheWire, own: own).retry)
    }

    @Test func aRetryWithKeysGetsAFreshPrekeyMessageForThatDeviceAlone() async throws {
        var fixture = F()
        _ = try fixture.send("lost", id: "ID0", bundles: try fixture.allBundles())
        // Ann's companion lost the session: it asks with a new bundle (one-time prekey 9).
        let request = try Self.retry("ID0", from: fixture.annCompanion, count: 2, keys: try fixture.annCompanion.bundle(preKeyID: 9))
        #expect(!fixture.encryptor.resendNeedsBundle(request, state: fixture.state))
        let resent = try fixture.encryptor.encryptResend(
            request, message: TestContact.text("lost"), chat: F.annChat, state: fixture.state, fetched: nil, using: &fixture.generator
        )
        let stanza = try resent.stanza.onTheWire
        #expect(stanza.child("participants") == nil)
        #expect(stanza.attributes["to"] == .jid(fixture.annCompanion.jid))
        #expect(stanza.attributes["id"] == "ID0")
        #expect(stanza.attributes["device_fanout"] == "false")
        #expect(stanza.child("enc")?.attribute("count") == "2")
        #expect(stanza.child("enc")?.attribute("type") == "pkmsg")
        #expect(stanza.child("device-identity") != nil)
        #expect(Set(resent.changes.sessions.keys) == [SignalAddress(fixture.annCompanion.jid)])

        var random = SeededRandom(seed: 8)
        let received = try await fixture.annCompanion.receive(resent.stanza, from: F.ownDevice, using: &random)
        #expect(received.report.message?.text == "lost")
        #expect(fixture.annCompanion.store.snapshot.consumedPreKeys == [9])
    }

    @Test func aRetryWithoutKeysUsesTheStoredSessionOrAsksForABundle() async throws {
        var fixture = F()
        let request = try Self.retry("ID0", from: fixture.annPhone, count: 1, keys: nil)
        #expect(fixture.encryptor.resendNeedsBundle(request, state: fixture.state))
        #expect(throws: SendError(.noSession)) {
            try fixture.encryptor.encryptResend(
                request, message: TestContact.text("x"), chat: F.annChat, state: fixture.state, fetched: nil, using: &fixture.generator
            )
        }
        let resent = try fixture.encryptor.encryptResend(
            request, message: TestContact.text("x"), chat: F.annChat, state: fixture.state,
            fetched: try fixture.annPhone.bundle(), using: &fixture.generator
        )
        var random = SeededRandom(seed: 9)
        #expect(try await fixture.annPhone.receive(resent.stanza, from: F.ownDevice, using: &random).report.message?.text == "x")

        fixture.state.apply(resent.changes)
        #expect(!fixture.encryptor.resendNeedsBundle(request, state: fixture.state))
    }
}

extension KeyBundle {
    /// The `<keys>` children a retry receipt carries (messaging.md §5.1).
    func keyNodesForTests() -> [Node] {
        var nodes = [Node("type", bytes: [5]), Node("identity", bytes: identityKey)]
        if let preKey {
            nodes.append(Node("key", [Node("id", bytes: Array(Self.bigEndianForTests(preKey.id).suffix(3))), Node("value", bytes: preKey.publicKey)]))
        }
        nodes.append(Node("skey", [
            Node("id", bytes: Array(Self.bigEndianForTests(signedPreKey.id).suffix(3))),
            Node("value", bytes: signedPreKey.publicKey), Node("signature", bytes: signedPreKey.signature),
        ]))
        return nodes
    }
}
