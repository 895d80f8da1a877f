import Foundation
import Synchronization
import WAWire

/// Counters of everything the simulator saw, shared by every connection; safe from any thread.
///
/// One lock guards plain integers and one dictionary entry per device, so a connection costs a
/// few bytes here and an update is a short critical section even at 10,000 connections.
public final class SimStats: Sendable {
    /// How many violations are kept with their detail; the count keeps going past it.
    public static let keptViolations = 200
    /// How many arrivals and relayed copies are kept (the first ones); the counters keep going past it.
    public static let keptArrivals = 200_000

    private let state = Mutex(State())

    public init() {}

    /// Counts what the world reports; the simulator passes every `SimWorldEvent` here.
    public func record(_ event: SimWorldEvent) {
        state.withLock { state in
            switch event {
            case .connectionOpened:
                state.liveConnections += 1
                state.connectionsAccepted += 1
                state.maxLiveConnections = max(state.maxLiveConnections, state.liveConnections)
            case .connectionClosed(let id):
                state.liveConnections -= 1
                if let device = state.loggedIn.removeValue(forKey: id) {
                    state.devices[device]?.live -= 1
                }
            case .handshakeCompleted(_, let isRegistration):
                state.handshakes += 1
                if isRegistration { state.registrations += 1 }
            case .refsServed(_, let count):
                state.refsServed += count
            case .loggedIn(let id, let jid):
                let device = jid.description
                state.logins += 1
                state.loggedIn[id] = device
                var entry = state.devices[device, default: DeviceEntry()]
                entry.live += 1
                entry.logins += 1
                entry.maximum = max(entry.maximum, entry.live)
                state.devices[device] = entry
                state.maxPerDevice = max(state.maxPerDevice, entry.live)
                if entry.live > 1, !state.devicesOverOne.contains(device) {
                    state.devicesOverOne.append(device)
                }
            case .loginRefused(_, let reason):
                state.loginsRefused[String(reason), default: 0] += 1
            case .paired:
                state.pairingsCompleted += 1
            case .unlinked:
                state.unlinks += 1
            case .faultApplied(_, let label):
                state.faults[FaultKind(appliedLabel: label)?.rawValue ?? label, default: 0] += 1
            case .violation(let violation):
                state.violationCount += 1
                state.violationsByKind[violation.kind.rawValue, default: 0] += 1
                if state.violations.count < Self.keptViolations {
                    state.violations.append(SimStatsSnapshot.Violation(violation))
                }
            case .messageSent(let sender, let isContact, _):
                state.messagesSent += 1
                if isContact {
                    state.sentByContact[sender, default: 0] += 1
                } else {
                    state.sentByPhone[sender, default: 0] += 1
                }
            case .stanzasOffered(_, let jid, let count, let redelivered):
                state.delivery.offered += count
                state.delivery.redelivered += redelivered
                state.devices[jid.description, default: DeviceEntry()].delivery.offered += count
                state.devices[jid.description, default: DeviceEntry()].delivery.redelivered += redelivered
            case .stanzaAnswered(let jid):
                state.delivery.acked += 1
                state.devices[jid.description, default: DeviceEntry()].delivery.acked += 1
            case .stanzaRefused(let jid):
                state.delivery.refused += 1
                state.devices[jid.description, default: DeviceEntry()].delivery.refused += 1
            case .retryAnswered(let jid):
                state.delivery.retried += 1
                state.devices[jid.description, default: DeviceEntry()].delivery.retried += 1
            case .ackDeadlineMissed:
                state.ackDeadlineClosures += 1
            case .preKeysChanged:
                break
            case .messageAccepted(let jid):
                state.fromDevices.accepted += 1
                state.devices[jid.description, default: DeviceEntry()].sent += 1
            case .messageRefused(let jid, let code):
                if code == SimWorld.rateOverlimitError {
                    state.fromDevices.rateLimited += 1
                    state.devices[jid.description, default: DeviceEntry()].rateLimited += 1
                } else {
                    state.fromDevices.rejected += 1
                }
            case .messageRelayed:
                break
            case .preKeyBundlesServed(let count):
                state.preKeyBundlesServed += count
            case .messageRead(_, let contact, let outcome, _, _, _):
                switch outcome {
                case .received:
                    state.fromDevices.received += 1
                    if let contact { state.receivedByContact[contact, default: 0] += 1 }
                case .duplicate:
                    state.fromDevices.duplicates += 1
                    if let contact { state.duplicatesByContact[contact, default: 0] += 1 }
                case .retryRequested:
                    state.fromDevices.retriesRequested += 1
                case .undecryptable:
                    state.fromDevices.undecryptable += 1
                }
            }
        }
    }

    /// Keeps one copy a simulated phone read, with the address of the connection it came on.
    func arrived(_ arrival: SimArrival) {
        state.withLock { state in
            if state.arrivals.count < Self.keptArrivals { state.arrivals.append(arrival) }
        }
    }

    /// Keeps one copy relayed to another linked device of the sender's account.
    func relayed(_ copy: SimRelayedCopy) {
        state.withLock { state in
            if state.relayed.count < Self.keptArrivals { state.relayed.append(copy) }
        }
    }

    /// Every copy of a linked device's message a simulated phone read, in order (the first `keptArrivals`).
    public func arrivals() -> [SimArrival] {
        state.withLock { $0.arrivals }
    }

    /// Every copy of a linked device's 1:1 message relayed to a sibling device (the first `keptArrivals`).
    public func relayedCopies() -> [SimRelayedCopy] {
        state.withLock { $0.relayed }
    }

    /// A fault the simulator applied itself rather than through a connection (an unlink).
    func faultInjected(_ kind: FaultKind) {
        state.withLock { $0.faults[kind.rawValue, default: 0] += 1 }
    }

    /// Where `device`'s latest login came from: a gateway's per-device proxy shows here.
    func loginCame(from peer: String, device: String) {
        state.withLock { $0.devices[device]?.lastPeer = peer }
    }

    /// The address (`ip:port`) `device`'s latest login came from, when known.
    public func lastLoginPeer(of device: String) -> String? {
        state.withLock { $0.devices[device]?.lastPeer }
    }

    /// `<success>` sent to `device` so far.
    public func logins(of device: String) -> Int {
        state.withLock { $0.devices[device]?.logins ?? 0 }
    }

    /// Whether `device` has a logged-in connection right now.
    public func isOnline(_ device: String) -> Bool {
        state.withLock { ($0.devices[device]?.live ?? 0) > 0 }
    }

    /// Everything at one instant; `includeDevices` adds one entry per device ever seen.
    public func snapshot(includeDevices: Bool = false) -> SimStatsSnapshot {
        state.withLock { state in
            SimStatsSnapshot(
                liveConnections: state.liveConnections,
                maxLiveConnections: state.maxLiveConnections,
                connectionsAccepted: state.connectionsAccepted,
                liveDevices: state.devices.values.reduce(0) { $0 + ($1.live > 0 ? 1 : 0) },
                maxConcurrentPerDevice: state.maxPerDevice,
                devicesOverOne: state.devicesOverOne,
                handshakes: state.handshakes,
                registrations: state.registrations,
                logins: state.logins,
                loginsRefused: state.loginsRefused,
                refsServed: state.refsServed,
                pairingsCompleted: state.pairingsCompleted,
                unlinks: state.unlinks,
                faultsInjected: state.faults,
                violationCount: state.violationCount,
                violationsByKind: state.violationsByKind,
                violations: state.violations,
                messagesSent: state.messagesSent,
                sentByContact: state.sentByContact,
                sentByPhone: state.sentByPhone,
                stanzasOffered: state.delivery.offered,
                stanzasAcked: state.delivery.acked,
                stanzasRedelivered: state.delivery.redelivered,
                retriesAnswered: state.delivery.retried,
                stanzasRefused: state.delivery.refused,
                stanzasPending: 0,
                oldestPendingSeconds: nil,
                ackDeadlineClosures: state.ackDeadlineClosures,
                messagesFromDevices: state.fromDevices.accepted,
                messagesRateLimited: state.fromDevices.rateLimited,
                messagesRejected: state.fromDevices.rejected,
                messagesReceived: state.fromDevices.received,
                duplicatesReceived: state.fromDevices.duplicates,
                retriesRequested: state.fromDevices.retriesRequested,
                undecryptableReceived: state.fromDevices.undecryptable,
                preKeyBundlesServed: state.preKeyBundlesServed,
                receivedByContact: state.receivedByContact,
                duplicatesByContact: state.duplicatesByContact,
                devices: includeDevices
                    ? state.devices.map { jid, entry in
                        SimStatsSnapshot.Device(
                            jid: jid, live: entry.live, maximum: entry.maximum, logins: entry.logins,
                            offered: entry.delivery.offered, acked: entry.delivery.acked, redelivered: entry.delivery.redelivered,
                            retried: entry.delivery.retried, refused: entry.delivery.refused, pending: 0, oldestPendingSeconds: nil,
                            lastLoginFrom: entry.lastPeer, sent: entry.sent, rateLimited: entry.rateLimited
                        )
                    }.sorted { $0.jid < $1.jid }
                    : nil
            )
        }
    }

    /// Stanza counters, in total or for one device.
    private struct Delivery {
        var offered = 0
        var acked = 0
        var redelivered = 0
        var retried = 0
        var refused = 0
    }

    /// What linked devices sent, and what the simulated phones made of it.
    private struct FromDevices {
        var accepted = 0
        var rateLimited = 0
        var rejected = 0
        var received = 0
        var duplicates = 0
        var retriesRequested = 0
        var undecryptable = 0
    }

    private struct DeviceEntry {
        var sent = 0
        var rateLimited = 0
        var live = 0
        var maximum = 0
        var logins = 0
        var delivery = Delivery()
        var lastPeer: String?
    }

    private struct State {
        var liveConnections = 0
        var maxLiveConnections = 0
        var connectionsAccepted = 0
        var devices: [String: DeviceEntry] = [:]
        var maxPerDevice = 0
        var devicesOverOne: [String] = []
        var handshakes = 0
        var registrations = 0
        var logins = 0
        var loginsRefused: [String: Int] = [:]
        var loggedIn: [SimConnectionID: String] = [:]
        var violationsByKind: [String: Int] = [:]
        var refsServed = 0
        var pairingsCompleted = 0
        var unlinks = 0
        var faults: [String: Int] = [:]
        var violationCount = 0
        var violations: [SimStatsSnapshot.Violation] = []
        var messagesSent = 0
        var sentByContact: [String: Int] = [:]
        var sentByPhone: [String: Int] = [:]
        var delivery = Delivery()
        var ackDeadlineClosures = 0
        var fromDevices = FromDevices()
        var receivedByContact: [String: Int] = [:]
        var duplicatesByContact: [String: Int] = [:]
        var arrivals: [SimArrival] = []
        var relayed: [SimRelayedCopy] = []
        var preKeyBundlesServed = 0
    }
}

/// One copy of a linked device's message that a simulated phone read: what the phone made of it,
/// and the connection it came on (the chaos run's send invariants match it to the gateway's attempt).
public struct SimArrival: Sendable, Hashable, Codable {
    /// The message's WhatsApp id.
    public var id: String
    /// The reading contact's phone number; nil for the account's own phone.
    public var contact: String?
    /// The sending device's JID.
    public var device: String
    public var outcome: SimReceiveOutcome
    public var connection: UInt64
    /// The connection's client address (`ip:port`), when the socket knew it.
    public var peer: String?
    /// When the server read the stanza.
    public var at: Date

    public init(id: String, contact: String?, device: String, outcome: SimReceiveOutcome, connection: UInt64, peer: String?, at: Date) {
        self.id = id
        self.contact = contact
        self.device = device
        self.outcome = outcome
        self.connection = connection
        self.peer = peer
        self.at = at
    }
}

/// A copy of a linked device's 1:1 message the server queued for another device of its account.
public struct SimRelayedCopy: Sendable, Hashable, Codable {
    public var id: String
    /// The sending device and the sibling the copy is for (JIDs).
    public var device: String
    public var sibling: String
}

/// The simulator's counters at one instant, as `GET /stats` returns them.
public struct SimStatsSnapshot: Sendable, Hashable, Codable {
    public struct Violation: Sendable, Hashable, Codable {
        public var connection: UInt64
        /// The device JID, or the phone number a registration pairs with, when known.
        public var device: String?
        /// `SimViolation.Kind`: transport, malformed_stanza, missing_answer, unexpected_answer, bad_signature, wrong_order.
        public var kind: String
        public var detail: String
        public var at: Date

        init(_ violation: SimViolation) {
            connection = violation.connection.rawValue
            device = violation.device
            kind = violation.kind.rawValue
            detail = violation.detail
            at = violation.at
        }
    }

    public struct Device: Sendable, Hashable, Codable {
        public var jid: String
        /// Logged-in connections of this device right now.
        public var live: Int
        /// The most it ever had at once; the fleet invariant says 1.
        public var maximum: Int
        /// `<success>` sent to it so far (what the chaos run bounds by the reconnect policy).
        public var logins: Int
        /// Queued stanzas written to it (each replay counts again), answered, written again after an
        /// earlier offer, re-encrypted for its retry receipts, and refused with an error ack.
        public var offered: Int
        public var acked: Int
        public var redelivered: Int
        public var retried: Int
        public var refused: Int
        /// Stanzas queued for it and not answered, and the age of the oldest (`Simulator.statsSnapshot`).
        public var pending: Int
        public var oldestPendingSeconds: Double?
        /// The address (`ip:port`) its latest login came from.
        public var lastLoginFrom: String?
        /// Messages it sent that the server accepted, and that it refused with rate-overlimit.
        public var sent: Int
        public var rateLimited: Int
    }

    /// Open sockets, logged in or not.
    public var liveConnections: Int
    public var maxLiveConnections: Int
    public var connectionsAccepted: Int
    /// Devices with a logged-in connection right now.
    public var liveDevices: Int
    /// The largest number of simultaneous logged-in connections any one device ever had.
    public var maxConcurrentPerDevice: Int
    /// Devices that ever had more than one logged-in connection at once.
    public var devicesOverOne: [String]
    /// Noise handshakes completed (registration and login).
    public var handshakes: Int
    public var registrations: Int
    /// `<success>` sent.
    public var logins: Int
    /// `<failure>` sent on login, by reason.
    public var loginsRefused: [String: Int]
    public var refsServed: Int
    /// pair-device-sign replies that verified.
    public var pairingsCompleted: Int
    public var unlinks: Int
    /// Faults applied, by `FaultKind.rawValue`.
    public var faultsInjected: [String: Int]
    public var violationCount: Int
    public var violationsByKind: [String: Int]
    /// The first `SimStats.keptViolations` violations.
    public var violations: [Violation]
    /// Messages sent by contacts and phones (one per send, whatever the number of linked devices).
    public var messagesSent: Int
    /// By contact phone number, and by account phone number (own-phone messages).
    public var sentByContact: [String: Int]
    public var sentByPhone: [String: Int]
    /// Queued stanzas written to devices (replays count again), answered, written again after an earlier
    /// offer, re-encrypted for retry receipts, and refused with an error ack.
    public var stanzasOffered: Int
    public var stanzasAcked: Int
    public var stanzasRedelivered: Int
    public var retriesAnswered: Int
    public var stanzasRefused: Int
    /// Stanzas queued and not answered, and the age of the oldest, over all devices
    /// (`Simulator.statsSnapshot`; `SimStats.snapshot` alone leaves them 0 and nil).
    public var stanzasPending: Int
    public var oldestPendingSeconds: Double?
    /// Connections closed with `<stream:error><ack/>` for leaving a stanza unanswered past the deadline.
    public var ackDeadlineClosures: Int
    /// `<message>` stanzas linked devices sent: accepted, refused with rate-overlimit (429), refused as
    /// unreadable (479).
    public var messagesFromDevices: Int
    public var messagesRateLimited: Int
    public var messagesRejected: Int
    /// What the simulated phones made of their copies: read with a new id, duplicates (an id they had,
    /// or a copy whose key was used), retries asked for, and copies they could not decrypt.
    public var messagesReceived: Int
    public var duplicatesReceived: Int
    public var retriesRequested: Int
    public var undecryptableReceived: Int
    /// Prekey bundles handed out to linked devices: one new outgoing session (X3DH) each.
    public var preKeyBundlesServed: Int
    /// Messages received and duplicates, by contact phone number.
    public var receivedByContact: [String: Int]
    public var duplicatesByContact: [String: Int]
    public var devices: [Device]?
}
