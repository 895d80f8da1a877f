import DevicePool
import Foundation
import Messaging
import PairgateTestSupport
import Signal
import SwiftProtobuf
import Testing
import WAClient
import WAWire

/// The send path's encryption: per-device `pkmsg`/`msg`, the DeviceSentMessage for our own devices,
/// the stanza's layout, and the state to commit before the stanza leaves. Real receivers decrypt
/// every part through their own receive pipelines.
@Suite struct DirectSendTests {
    typealias F = SendFixture

    @Test func aFirstSendEncryptsAPrekeyMessageForEveryDeviceButThisOne() async throws {
        var fixture = F()
        let sent = try fixture.send("hello", id: "3EB0000000000000000001", bundles: try fixture.allBundles())

        let stanza = try sent.stanza.onTheWire
        #expect(stanza.tag == "message")
        #expect(stanza.attributes["to"] == .jid(F.annChat))
        #expect(stanza.attributes["type"] == "text")
        #expect(stanza.attributes["id"] == "3EB0000000000000000001")
        #expect(stanza.attributes["peer_recipient_pn"] == .jid(JID(user: F.annPhoneNumber, server: .whatsApp)))
        let targets = try #require(stanza.child("participants")).children.map { $0.attributes["jid"] }
        #expect(targets == [.jid(fixture.annPhone.jid), .jid(fixture.annCompanion.jid), .jid(fixture.ownPhone.jid)])
        let types = stanza.child("participants")?.children.compactMap { $0.child("enc")?.attribute("type") }
        #expect(types == ["pkmsg", "pkmsg", "pkmsg"])
        #expect(stanza.child("device-identity")?.bytes == fixture.device.deviceIdentity)
        #expect(sent.failures.isEmpty)
        #expect(sent.devices == [fixture.annPhone.jid, fixture.annCompanion.jid, fixture.ownPhone.jid])
        // phash covers the whole fan-out, this device included (whatsmeow `participantListHashV2`).
        #expect(sent.phash == DeviceListHash.v2(fixture.fanOut.recipientDevices + fixture.fanOut.ownDevices))

        // The state to commit: a session and a trusted identity per device, keyed by LID address.
        #expect(Set(sent.changes.sessions.keys) == Set(sent.devices.map(SignalAddress.init)))
        #expect(sent.changes.identities[SignalAddress(fixture.annCompanion.jid)]
            == (try Curve25519KeyPair(privateKey: fixture.annCompanion.credentials.identityKey).publicKey))

        var random = SeededRandom(seed: 5)
        for peer in [fixture.annPhone, fixture.annCompanion] {
            let received = try await peer.receive(sent.stanza, from: F.ownDevice, using: &random)
            #expect(received.report.disposition == .stored)
            #expect(received.report.message?.text == "hello")
            #expect(received.report.message?.fromMe == false)
        }
        // Our phone reads the DeviceSentMessage: our own message, in the chat with Ann.
        let own = try await fixture.ownPhone.receive(sent.stanza, from: F.ownDevice, using: &random)
        let row = try #require(own.report.message)
        #expect(row.fromMe)
        #expect(row.text == "hello")
        #expect(row.key.chat == F.annChat.description)
        let wrapper = try WAMessage(serializedBytes: row.raw)
        #expect(wrapper.deviceSentMessage.destinationJid == F.annChat.description)
    }

    @Test func laterSendsUseTheCommittedSessionsInOrderAndFetchNothing() async throws {
        var fixture = F()
        _ = try fixture.send("m0", id: "ID0", bundles: try fixture.allBundles())
        #expect(fixture.encryptor.devicesNeedingBundles(fixture.encryptor.targets(of: fixture.fanOut), state: fixture.state).isEmpty)
        let second = try fixture.send("m1", id: "ID1")
        let third = try fixture.send("m2", id: "ID2")

        var random = SeededRandom(seed: 6)
        var texts: [String?] = []
        for stanza in [second.stanza, third.stanza] {
            texts.append(try await fixture.annPhone.receive(stanza, from: F.ownDevice, using: &random).report.message?.text)
        }
        // The first never arrives: until the recipient answers, every message is a `pkmsg` carrying the
        // session's setup, so the later ones decrypt without it.
        #expect(texts == ["m1", "m2"])
    }

    @Test func aSessionTheRecipientAnsweredSendsPlainMessagesWithoutADeviceIdentity() async throws {
        var fixture = F()
        let first = try fixture.send("hi", id: "ID0", bundles: [fixture.annPhone.jid: try fixture.annPhone.bundle()].merging(
            [fixture.annCompanion.jid: try fixture.annCompanion.bundle(), fixture.ownPhone.jid: try fixture.ownPhone.bundle()]
        ) { a, _ in a })
        // Each receiver answers on its new session; our device decrypts the answers.
        var random = SeededRandom(seed: 7)
        for peer in [fixture.annPhone, fixture.annCompanion, fixture.ownPhone] {
            _ = try await peer.receive(first.stanza, from: F.ownDevice, using: &random)
            let record = try SessionRecord(serialized: try #require(peer.store.snapshot.sessions[SignalAddress(F.ownDevice)]))
            let answer = try SessionCipher.encrypt(MessagePadding.pad([1, 2, 3], using: &random), record: record)
            let ours = try SessionRecord(serialized: try #require(fixture.state.sessions[SignalAddress(peer.jid)]))
            let decrypted = try SessionCipher.decrypt(try WhisperMessage(parsing: answer.serialized), record: ours, using: &random)
            fixture.state.sessions[SignalAddress(peer.jid)] = decrypted.record.serialized()
        }
        let next = try fixture.send("again", id: "ID1")
        let stanza = try next.stanza.onTheWire
        #expect(stanza.child("participants")?.children.compactMap { $0.child("enc")?.attribute("type") } == ["msg", "msg", "msg"])
        #expect(stanza.child("device-identity") == nil)
    }

    @Test func aDeviceWithoutSessionOrBundleIsSkippedAndTheOthersStillGetTheMessage() throws {
        var fixture = F()
        let sent = try fixture.send("partial", id: "ID0", bundles: [fixture.annPhone.jid: try fixture.annPhone.bundle()])
        #expect(sent.devices == [fixture.annPhone.jid])
        #expect(sent.failures == [fixture.annCompanion.jid: .noSession, fixture.ownPhone.jid: .noSession])
        #expect(Set(sent.changes.sessions.keys) == [SignalAddress(fixture.annPhone.jid)])
    }

    @Test func aBundleWithABadSignatureFailsThatDeviceOnly() throws {
        var fixture = F()
        let good = try fixture.annPhone.bundle()
        let forged = KeyBundle(
            registrationID: good.registrationID, identityKey: good.identityKey,
            signedPreKey: KeyBundle.SignedPreKey(id: good.signedPreKey.id, publicKey: good.signedPreKey.publicKey, signature: [UInt8](repeating: 1, count: 64)),
            preKey: good.preKey
        )
        let sent = try fixture.send("x", id: "ID0", bundles: [fixture.annPhone.jid: forged, fixture.annCompanion.jid: try fixture.annCompanion.bundle()])
        #expect(sent.failures[fixture.annPhone.jid] == .invalidSignature)
        #expect(sent.devices == [fixture.annCompanion.jid])
    }

    @Test func aSendFailsWhenNoRecipientDeviceCanBeEncryptedOrThereIsNone() throws {
        var fixture = F()
        // Only our own phone has a bundle: a DSM alone would tell our phone of a message nobody got.
        #expect(throws: SendError(.encryptionFailed)) {
            try fixture.send("nobody", id: "ID0", bundles: [fixture.ownPhone.jid: try fixture.ownPhone.bundle()])
        }
        #expect(fixture.state.sessions.isEmpty)
        let empty = DirectFanOut(chat: F.annChat, recipientDevices: [], ownDevices: [F.ownDevice])
        #expect(throws: SendError(.noDevices)) {
            try fixture.encryptor.encryptDirect(
                id: "ID1", message: TestContact.text("x"), fanOut: empty, state: fixture.state, bundles: [:], using: &fixture.generator
            )
        }
    }

    @Test func aBundleWithANewIdentityIsTrustedAndTheChangeRecorded() throws {
        var fixture = F()
        let address = SignalAddress(fixture.annPhone.jid)
        fixture.state.identities[address] = [UInt8](repeating: 9, count: 32)
        let sent = try fixture.send("x", id: "ID0", bundles: [fixture.annPhone.jid: try fixture.annPhone.bundle()])
        let key = try Curve25519KeyPair(privateKey: fixture.annPhone.credentials.identityKey).publicKey
        #expect(sent.changes.identities[address] == key)
        #expect(sent.changes.identityChanges == [ProtocolChanges.IdentityChange(
            address: address, previousFingerprint: IdentityFingerprint.of([UInt8](repeating: 9, count: 32)),
            newFingerprint: IdentityFingerprint.of(key)
        )])
    }

    @Test func theFanOutUsesLIDsWhenTheChatIsALIDAndOurLIDIsKnown() {
        let fixture = F()
        let (recipient, own) = DirectFanOut.users(for: F.annChat, account: fixture.device.account)
        #expect(recipient == F.annChat)
        #expect(own == JID(user: F.ownLID, server: .lid))
        let pn = JID(user: F.annPhoneNumber, server: .whatsApp)
        #expect(DirectFanOut.users(for: pn, account: fixture.device.account).own == JID(user: F.ownPhoneNumber, server: .whatsApp))
        #expect(fixture.encryptor.isOwnDevice(JID(user: F.ownPhoneNumber, device: 7, server: .whatsApp)))
        #expect(!fixture.encryptor.isOwnDevice(JID(user: F.ownLID, server: .lid)))
    }
}
