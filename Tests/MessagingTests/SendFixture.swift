import DevicePool
import Foundation
import Messaging
import PairgateTestSupport
import Signal
import WAClient
import WAWire

/// Our linked device sending, and real linked devices on the other end receiving through their own
/// receive pipelines: Ann's phone and companion, and our own phone (which gets the DeviceSentMessage).
/// The test plays the server: it cuts a send stanza's `<participants>` into one `<message>` per device.
struct SendFixture {
    static let ownPhoneNumber = ReceiveFixture.ownPhoneNumber
    static let ownLID = ReceiveFixture.ownLID
    static let annPhoneNumber = "15551234567"
    static let annLID = "123456789012345"

    /// One receiving device: its credentials (which publish the bundle) and its receive pipeline.
    struct Peer {
        let credentials: DeviceCredentials
        let pipeline: InboundPipeline
        let store = MemoryProtocolStore()
        let jid: JID

        init(phoneNumber: String, lid: String, device: UInt16, seed: UInt64) {
            credentials = .pairedForTests(phoneNumber: phoneNumber, lid: lid, device: device, seed: seed)
            pipeline = InboundPipeline(store: store, device: LocalDevice(credentials: credentials)!)
            jid = JID(user: lid, device: device, server: .lid)
        }

        /// The bundle the server hands out for this device, with one-time prekey `preKeyID` (nil: none left).
        func bundle(preKeyID: UInt32? = 1) throws -> KeyBundle {
            KeyBundle(
                registrationID: credentials.registrationID,
                identityKey: try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey,
                signedPreKey: KeyBundle.SignedPreKey(
                    id: credentials.signedPreKeyID,
                    publicKey: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey,
                    signature: credentials.signedPreKeySignature
                ),
                preKey: try preKeyID.map { id in
                    KeyBundle.PreKey(id: id, publicKey: try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: id).publicKey)
                }
            )
        }

        /// Receives this device's part of `stanza` as the server would deliver it from `sender`.
        func receive(_ stanza: Node, from sender: JID, using generator: inout SeededRandom) async throws -> InboundResult {
            try await pipeline.receive(try SendFixture.delivery(of: stanza, to: jid, from: sender), using: &generator)
        }
    }

    let credentials: DeviceCredentials
    let device: LocalDevice
    let encryptor: OutboundEncryptor
    /// Our stored Signal state, as committed after each send.
    var state = ProtocolState()
    var generator = SeededRandom(seed: 77)

    let annPhone = Peer(phoneNumber: annPhoneNumber, lid: annLID, device: 0, seed: 21)
    let annCompanion = Peer(phoneNumber: annPhoneNumber, lid: annLID, device: 3, seed: 22)
    let ownPhone = Peer(phoneNumber: ownPhoneNumber, lid: ownLID, device: 0, seed: 23)

    init() {
        credentials = .pairedForTests(phoneNumber: Self.ownPhoneNumber, lid: Self.ownLID, seed: 1)
        device = LocalDevice(credentials: credentials)!
        encryptor = OutboundEncryptor(device: device)
    }

    /// Our own device (7), in LID form: the `from` of what we send.
    static var ownDevice: JID { JID(user: ownLID, device: 7, server: .lid) }
    static var annChat: JID { JID(user: annLID, server: .lid) }

    /// Ann's two devices and ours (phone, and this device, which is skipped).
    var fanOut: DirectFanOut {
        DirectFanOut(
            chat: Self.annChat, peerRecipientPN: JID(user: Self.annPhoneNumber, server: .whatsApp),
            recipientDevices: [annPhone.jid, annCompanion.jid], ownDevices: [ownPhone.jid, Self.ownDevice]
        )
    }

    /// Encrypts `text` with the current state and bundles, and commits the changes to `state`.
    mutating func send(_ text: String, id: String, bundles: [JID: KeyBundle] = [:]) throws -> OutboundEncryption {
        let encryption = try encryptor.encryptDirect(
            id: id, message: TestContact.text(text), fanOut: fanOut, state: state, bundles: bundles, using: &generator
        )
        state.apply(encryption.changes)
        return encryption
    }

    /// Every device's bundle.
    func allBundles() throws -> [JID: KeyBundle] {
        [annPhone.jid: try annPhone.bundle(), annCompanion.jid: try annCompanion.bundle(), ownPhone.jid: try ownPhone.bundle()]
    }

    /// What the server delivers to `device` for a send stanza: `<message from id t type>` with the
    /// device's `<enc>` (or the resend's own `<enc>`), and `sender_pn` for a LID sender.
    static func delivery(of stanza: Node, to device: JID, from sender: JID) throws -> Node {
        let enc: Node
        if let participants = stanza.child("participants") {
            guard let to = participants.children.first(where: { $0.attributes["jid"] == .jid(device) }), let part = to.child("enc") else {
                throw DeliveryMissing()
            }
            enc = part
        } else {
            enc = try requireNonNil(stanza.child("enc"))
        }
        var attributes: Node.Attributes = [
            "from": .jid(sender), "id": stanza.attributes["id"] ?? "", "type": stanza.attributes["type"] ?? "text",
            "t": "1760000100", "sender_pn": .jid(JID(user: ownPhoneNumber, server: .whatsApp)),
        ]
        if device.user == ownLID, let to = stanza.attributes["to"] {
            attributes["recipient"] = to
        }
        return Node("message", attributes, [enc])
    }

    struct DeliveryMissing: Error {}
}

private func requireNonNil<T>(_ value: T?) throws -> T {
    guard let value else { throw SendFixture.DeliveryMissing() }
    return value
}

extension ProtocolState {
    /// `changes` as a commit leaves the store.
    mutating func apply(_ changes: ProtocolChanges) {
        for address in changes.deletedSessions { sessions[address] = nil }
        for address in changes.deletedIdentities { identities[address] = nil }
        sessions.merge(changes.sessions) { _, new in new }
        identities.merge(changes.identities) { _, new in new }
    }
}
