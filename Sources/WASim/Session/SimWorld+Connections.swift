import Foundation
import Signal
import WAWire

extension SimWorld {
    /// A change one connection's `SimConnectionMachine` makes to the world; its shell applies it with
    /// `apply(_:from:)` in the order the machine returned it.
    public enum Update: Sendable {
        /// Tell the observer (statistics).
        case note(SimWorldEvent)
        case record(SimViolation)
        /// Put a QR ref on the connection's screen, so that scanning it reaches the connection.
        case offerRef(String)
        case withdrawRef(String)
        /// The connection no longer waits for a code typed on this phone.
        case withdrawCodePairing(phoneNumber: String)
        /// The client countersigned pair-success: the device is linked.
        case link(SimLinkedDevice)
        /// The logged-in device uploaded these one-time prekeys and this signed prekey, and they were accepted.
        case recordPreKeyUpload(JID, keys: [PreKeyBundle.OneTimePreKey], signedPreKey: SimSignedPreKey)
        /// The connection wrote these queued stanzas (by `SimStanza.sequence`) to the device.
        case offered(JID, sequences: [UInt64])
        /// The device answered the queued stanza as the protocol requires: it leaves the queue.
        case answered(JID, sequence: UInt64)
        /// The contacts' read receipts due by `now` go out (the device came online).
        case releaseReadReceipts(now: Date)
        /// The device asked for the queued stanza again (a retry receipt): its sender encrypts it anew.
        case retry(JID, sequence: UInt64, SimRetryReceipt, now: Date)
        /// The logged-in device removed itself: its other connections get `.deviceRemoved`.
        case removeDevice(JID)
        /// The connection ended: its refs, code pairing and login are forgotten.
        case connectionEnded
    }

    /// What a machine asks the world when its next step depends on shared state; the shell feeds
    /// `answer(_:from:)` back to the machine at once.
    public enum Question: Sendable, Hashable {
        /// Log the device in with this Noise key; its other connections are replaced.
        case login(JID, noiseKey: [UInt8])
        /// Take the next device number and key index of the phone's account, for a pair-success.
        case reserveDevice(phoneNumber: String)
        /// Wait for the phone of this number to enter a code, if there is such an account.
        case offerCodePairing(phoneNumber: String)
        /// The device's prekeys uploaded and not yet handed out.
        case availablePreKeys(JID)
        /// The device finished logging in: send it its stanzas from now on, and say which are queued.
        case startDelivery(JID)
        /// The bundles of these devices (linked devices and contacts' phones), one-time prekeys consumed.
        case preKeyBundles([JID])
        /// The logged-in device sent this `<message>`: route it to the simulated phones (`SimWorld.receive`).
        case deviceMessage(JID, Node, now: Date)
        /// The device lists of these users (usync).
        case deviceLists([JID])
        /// The member list of this group, as the logged-in device asks for it (`w:g2`).
        case groupInfo(JID, group: JID)
        /// The read receipts due for this device by `now` go out; when is its next one due?
        case readReceipts(JID, now: Date)
    }

    /// The world's answer to a `Question`, case for case.
    public enum Answer: Sendable, Hashable {
        /// The linked device, or nil: not linked, or linked with another Noise key.
        case login(SimLinkedDevice?)
        /// Nil without such an account, or with every device number taken.
        case reservation(Reservation?)
        case codePairingOffered(Bool)
        case availablePreKeys(Int)
        /// The queue to replay, oldest first; nil when the connection is no longer logged in as the device.
        case queued([SimStanza]?)
        /// The bundles of the devices that have one.
        case bundles([JID: KeyBundle])
        case messageAnswer(MessageAnswer)
        /// The lists of the users the simulator knows.
        case deviceLists([JID: SimDeviceList])
        case groupInfo(SimGroupInfo)
        case nextReadReceipt(Date?)
    }

    /// A device number and ADV key index taken for one pair-success.
    public struct Reservation: Sendable, Hashable {
        public let deviceID: UInt16
        public let keyIndex: UInt32
    }

    /// Applies one connection's change.
    public func apply(_ update: Update, from connection: SimConnectionID) {
        switch update {
        case .note(let event):
            note(event)
        case .record(let violation):
            record(violation)
        case .offerRef(let ref):
            offerRef(ref, connection: connection)
        case .withdrawRef(let ref):
            withdrawRef(ref)
        case .withdrawCodePairing(let phoneNumber):
            withdrawCodePairing(phoneNumber: phoneNumber, connection: connection)
        case .link(let device):
            link(device, connection: connection)
        case .recordPreKeyUpload(let jid, let keys, let signedPreKey):
            recordPreKeyUpload(jid, keys: keys, signedPreKey: signedPreKey)
        case .offered(let jid, let sequences):
            offered(sequences, to: jid, connection: connection)
        case .answered(let jid, let sequence):
            answered(sequence, by: jid)
        case .releaseReadReceipts(let now):
            releaseReadReceipts(now: now)
        case .retry(let jid, let sequence, let receipt, let now):
            answerRetry(receipt, of: sequence, device: jid, now: now)
        case .removeDevice(let jid):
            removeDevice(jid, sparing: connection)
        case .connectionEnded:
            connectionEnded(connection)
        }
    }

    /// Answers one connection's question.
    public func answer(_ question: Question, from connection: SimConnectionID) -> Answer {
        switch question {
        case .login(let jid, let noiseKey):
            .login(login(jid, noiseKey: noiseKey, connection: connection))
        case .reserveDevice(let phoneNumber):
            .reservation(reserveDevice(phoneNumber: phoneNumber))
        case .offerCodePairing(let phoneNumber):
            .codePairingOffered(offerCodePairing(phoneNumber: phoneNumber, connection: connection))
        case .availablePreKeys(let jid):
            .availablePreKeys(device(jid)?.availablePreKeys ?? 0)
        case .startDelivery(let jid):
            .queued(startDelivery(jid, connection: connection))
        case .preKeyBundles(let jids):
            .bundles(preKeyBundles(jids))
        case .deviceMessage(let jid, let node, let now):
            .messageAnswer(receive(node, from: jid, connection: connection, now: now))
        case .deviceLists(let users):
            .deviceLists(deviceLists(users))
        case .groupInfo(let jid, let group):
            .groupInfo(groupInfo(group, askedBy: jid))
        case .readReceipts(let jid, let now):
            .nextReadReceipt(releaseReadReceipts(now: now, nextFor: jid))
        }
    }
}
