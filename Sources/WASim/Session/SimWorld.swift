import Foundation
import Signal
import Synchronization
import WAWire

/// The simulated WhatsApp's shared state, and the only way connections affect each other.
///
/// It holds the accounts (the phones), the devices linked to them with their prekeys, the QR refs and
/// code pairings waiting for the phone, the live connections with their delivery callbacks, and the
/// messaging side (`SimMessaging`: contacts, groups, Signal sessions, offline queues). Three kinds of users:
/// - **shells** (one per socket): `openConnection(deliver:)` registers a callback and returns the id and
///   faults for a new `SimConnectionMachine`; the callback must hand the delivery to that machine
///   asynchronously (on its event loop), never by calling into it synchronously;
/// - **the phone and the control API**: `addAccount`, `scan`, `enterCode`, `devices`, `unlink`,
///   `handOutPreKeys`, `deliver(.fault(…), to:)`, contacts, groups and sends (SimWorld+Messaging.swift),
///   and the statistics queries;
/// - **`SimConnectionMachine`**: through its shell, which applies the machine's `Update`s and answers its
///   `Question`s (SimWorld+Connections.swift); the machine itself never touches the world.
///
/// Everything is behind one lock; callbacks (deliveries, the observer) run after it is released. Sends
/// and retry answers also hold `sending` across their callbacks, so that stanzas reach each connection
/// in the order they were queued.
public final class SimWorld: Sendable {
    /// How a connection's shell receives deliveries.
    public typealias Deliver = @Sendable (SimDelivery) -> Void

    /// What `openConnection` hands the shell for its machine.
    public struct Ticket: Sendable {
        public let id: SimConnectionID
        public let faults: SimConnectionFaults
    }

    /// Accounts, devices (with their prekeys), contacts and groups: the part of the world worth saving
    /// between runs; with `signal`, also the sessions, sender keys and queues (see `snapshot(includingSignal:)`).
    public struct Snapshot: Sendable, Hashable, Codable {
        public var accounts: [SimAccount]
        public var devices: [SimLinkedDevice]
        public var contacts: [SimContact]
        public var groups: [SimGroup]
        /// Only in a snapshot taken at a clean shutdown: a running simulator advances sessions with every
        /// message and does not save each time, so older session state must never be resumed.
        public var signal: SimSignalState?

        public init(
            accounts: [SimAccount] = [], devices: [SimLinkedDevice] = [], contacts: [SimContact] = [], groups: [SimGroup] = [],
            signal: SimSignalState? = nil
        ) {
            self.accounts = accounts
            self.devices = devices
            self.contacts = contacts
            self.groups = groups
            self.signal = signal
        }

        private enum CodingKeys: String, CodingKey {
            case accounts, devices, contacts, groups, signal
        }

        /// Reads state files written before contacts existed (no `contacts`, `groups` or `signal`).
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            accounts = try container.decode([SimAccount].self, forKey: .accounts)
            devices = try container.decode([SimLinkedDevice].self, forKey: .devices)
            contacts = try container.decodeIfPresent([SimContact].self, forKey: .contacts) ?? []
            groups = try container.decodeIfPresent([SimGroup].self, forKey: .groups) ?? []
            signal = try container.decodeIfPresent(SimSignalState.self, forKey: .signal)
        }
    }

    /// Violations kept for inspection; older ones are dropped (the count keeps going).
    public static let retainedViolations = 1000

    struct LiveConnection {
        let deliver: Deliver
        /// The client's address as the socket saw it (`ip:port`), when the shell knows it.
        let peer: String?
        /// The device it logged in as.
        var device: JID?
    }

    struct State {
        var accounts: [String: SimAccount] = [:]
        /// Linked devices; add and remove them with `insert` and `remove`, which keep `devicesByAccount`.
        var devices: [JID: SimLinkedDevice] = [:]
        /// The linked devices of each account, in device order: a send finds them without scanning the world.
        private(set) var devicesByAccount: [String: [JID]] = [:]
        var connections: [SimConnectionID: LiveConnection] = [:]
        /// QR refs on some connection's screen right now.
        var refs: [String: SimConnectionID] = [:]
        /// Code pairings waiting for the phone, by phone number.
        var codePairings: [String: SimConnectionID] = [:]
        var logins: [JID: Set<SimConnectionID>] = [:]
        var maximumLogins: [JID: Int] = [:]
        var violations: [SimViolation] = []
        var violationCount = 0
        var nextConnection: UInt64 = 1
        var messaging = SimMessaging()
        /// The connection each device's stanzas go to: the one that last finished logging in (passive).
        var deliveryTargets: [JID: SimConnectionID] = [:]
        var random: InjectedRandom

        mutating func insert(_ device: SimLinkedDevice) {
            let jid = device.jid
            if devices.updateValue(device, forKey: jid) == nil {
                devicesByAccount[jid.user, default: []].append(jid)
                devicesByAccount[jid.user]?.sort { $0.device < $1.device }
            }
        }

        mutating func remove(_ jid: JID) -> SimLinkedDevice? {
            guard let device = devices.removeValue(forKey: jid) else {
                return nil
            }
            devicesByAccount[jid.user]?.removeAll { $0 == jid }
            if devicesByAccount[jid.user]?.isEmpty == true {
                devicesByAccount[jid.user] = nil
            }
            return device
        }
    }

    let state: Mutex<State>
    /// Held by sends and retry answers from queuing until their deliveries are handed over.
    let sending = Mutex(())
    let observer: @Sendable (SimWorldEvent) -> Void
    private let planFaults: @Sendable (SimConnectionID) -> SimConnectionFaults
    let planMessageFault: @Sendable (JID) -> Bool
    /// The fault, if any, for a message a linked device sends.
    let planSendFault: @Sendable (JID) -> SimSendFault?
    /// How long after a contact received a message it sends the `read` receipt (when it reads messages).
    let readReceiptDelay: TimeInterval

    /// The read delay of a world built without one: long enough to see `delivered` before `read`.
    public static let defaultReadReceiptDelay: TimeInterval = 2

    /// A world holding `snapshot`'s accounts, devices, contacts and groups (and its sessions, sender keys
    /// and queues when it has them). `observer` sees every event (for statistics); `planFaults` chooses the
    /// faults of each new connection, `planMessageFault` whether a message copy for a device is made
    /// undecryptable, `planSendFault` what happens to a message a device sends; contacts read messages
    /// `readReceiptDelay` seconds after they got them; `random` draws keys and message ids (seed it only in tests).
    public init(
        snapshot: Snapshot = Snapshot(),
        observer: @escaping @Sendable (SimWorldEvent) -> Void = { _ in },
        planFaults: @escaping @Sendable (SimConnectionID) -> SimConnectionFaults = { _ in SimConnectionFaults() },
        planMessageFault: @escaping @Sendable (JID) -> Bool = { _ in false },
        planSendFault: @escaping @Sendable (JID) -> SimSendFault? = { _ in nil },
        readReceiptDelay: TimeInterval = defaultReadReceiptDelay,
        random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
    ) {
        var initial = State(random: InjectedRandom(random))
        for account in snapshot.accounts {
            initial.accounts[account.phoneNumber] = account
        }
        for device in snapshot.devices {
            initial.insert(device)
        }
        for contact in snapshot.contacts {
            initial.messaging.contacts[contact.phoneNumber] = contact
        }
        for group in snapshot.groups {
            initial.messaging.groups[group.id] = group
        }
        if let signal = snapshot.signal {
            signal.restore(into: &initial.messaging)
        }
        state = Mutex(initial)
        self.observer = observer
        self.planFaults = planFaults
        self.planMessageFault = planMessageFault
        self.planSendFault = planSendFault
        self.readReceiptDelay = readReceiptDelay
    }

    /// The world as it is now. `includingSignal` adds the sessions, sender keys and queues: only for a
    /// snapshot saved as the simulator stops, after which nothing advances them.
    public func snapshot(includingSignal: Bool = false) -> Snapshot {
        state.withLock { state in
            Snapshot(
                accounts: state.accounts.values.sorted { $0.phoneNumber < $1.phoneNumber },
                devices: state.devices.values.sorted { ($0.phoneNumber, $0.deviceID) < ($1.phoneNumber, $1.deviceID) },
                contacts: state.messaging.contacts.values.sorted { $0.phoneNumber < $1.phoneNumber },
                groups: state.messaging.groups.values.sorted { $0.id < $1.id },
                signal: includingSignal ? SimSignalState(state.messaging) : nil
            )
        }
    }

    // MARK: Accounts and devices

    /// Adds the account, or replaces the one with the same phone number (its devices stay linked).
    public func addAccount(_ account: SimAccount) {
        state.withLock { $0.accounts[account.phoneNumber] = account }
    }

    public func account(phoneNumber: String) -> SimAccount? {
        state.withLock { $0.accounts[phoneNumber] }
    }

    public var accounts: [SimAccount] {
        snapshot().accounts
    }

    public var devices: [SimLinkedDevice] {
        snapshot().devices
    }

    public func devices(phoneNumber: String) -> [SimLinkedDevice] {
        devices.filter { $0.phoneNumber == phoneNumber }
    }

    public func device(_ jid: JID) -> SimLinkedDevice? {
        state.withLock { $0.devices[jid] }
    }

    /// The phone unlinks `jid`: connections logged in as it get stream:error device_removed, and its next
    /// login is refused with 401. False when no such device is linked.
    @discardableResult
    public func unlink(_ jid: JID) -> Bool {
        removeDevice(jid, sparing: nil)
    }

    /// Below this many prekeys left, a device's live connections get the `encrypt` notification (§6.3).
    public static let lowPreKeyCount = 5

    /// Simulated senders fetch `count` of the device's prekeys (the oldest stored ones go); below
    /// `lowPreKeyCount` left, its live connections get the `encrypt` notification. Returns how many are
    /// left, nil for an unknown device.
    @discardableResult
    public func handOutPreKeys(of jid: JID, count: Int) -> Int? {
        let (available, deliveries) = state.withLock { state -> (Int?, [Deliver]) in
            guard var device = state.devices[jid] else {
                return (nil, [])
            }
            device.handOut(count)
            state.devices[jid] = device
            let available = device.availablePreKeys
            return (available, available < Self.lowPreKeyCount ? Self.loggedInCallbacks(of: jid, in: state, sparing: nil) : [])
        }
        if let available {
            observer(.preKeysChanged(devices: [jid]))
            deliveries.forEach { $0(.preKeysLow(available: available)) }
        }
        return available
    }

    // MARK: The phone

    /// The phone of `phoneNumber` scans `text`; the connection showing that ref continues the pairing.
    public func scan(_ text: String, phoneNumber: String) throws(SimWorldError) {
        let qr: PairingQR
        do {
            qr = try PairingQR.parse(text)
        } catch {
            throw SimWorldError(.invalidQR)
        }
        let (account, deliver) = state.withLock { state in
            (state.accounts[phoneNumber], state.refs[qr.ref].flatMap { state.connections[$0]?.deliver })
        }
        guard let account else {
            throw SimWorldError(.unknownAccount)
        }
        guard let deliver else {
            throw SimWorldError(.unknownRef)
        }
        deliver(.scanned(qr, account: account))
    }

    /// The user types `text` on the phone of `phoneNumber`, for the connection that asked for a code.
    public func enterCode(_ text: String, phoneNumber: String) throws(SimWorldError) {
        let code: LinkCode
        do {
            code = try LinkCode(parsing: text)
        } catch {
            throw SimWorldError(.invalidCode)
        }
        let (account, deliver) = state.withLock { state in
            (state.accounts[phoneNumber], state.codePairings[phoneNumber].flatMap { state.connections[$0]?.deliver })
        }
        guard let account else {
            throw SimWorldError(.unknownAccount)
        }
        guard let deliver else {
            throw SimWorldError(.noCodePairing)
        }
        deliver(.codeEntered(code, account: account))
    }

    // MARK: Connections

    /// Registers a new connection from `peer`; `deliver` must pass deliveries to its machine asynchronously.
    public func openConnection(peer: String? = nil, deliver: @escaping Deliver) -> Ticket {
        let id = state.withLock { state in
            let id = SimConnectionID(state.nextConnection)
            state.nextConnection += 1
            state.connections[id] = LiveConnection(deliver: deliver, peer: peer)
            return id
        }
        observer(.connectionOpened(id))
        return Ticket(id: id, faults: planFaults(id))
    }

    /// Where a live connection comes from (`ip:port`), when its shell said.
    public func peer(of id: SimConnectionID) -> String? {
        state.withLock { $0.connections[id]?.peer }
    }

    /// Hands `delivery` to a live connection; false when it has ended.
    @discardableResult
    public func deliver(_ delivery: SimDelivery, to id: SimConnectionID) -> Bool {
        guard let deliver = state.withLock({ $0.connections[id]?.deliver }) else {
            return false
        }
        deliver(delivery)
        return true
    }

    public var liveConnections: [SimConnectionID] {
        state.withLock { $0.connections.keys.sorted() }
    }

    /// The connections logged in as `jid` right now (more than one only until `replaced` closes the old).
    public func loggedInConnections(of jid: JID) -> [SimConnectionID] {
        state.withLock { ($0.logins[jid] ?? []).sorted() }
    }

    /// The most connections ever logged in as `jid` at once.
    public func maximumConcurrentLogins(of jid: JID) -> Int {
        state.withLock { $0.maximumLogins[jid] ?? 0 }
    }

    /// The most connections ever logged in at once as any one device (the fleet invariant wants 1).
    public var maximumConcurrentLogins: Int {
        state.withLock { $0.maximumLogins.values.max() ?? 0 }
    }

    /// The latest violations, oldest first.
    public var violations: [SimViolation] {
        state.withLock { $0.violations }
    }

    public var violationCount: Int {
        state.withLock { $0.violationCount }
    }

    // MARK: For the connections' updates and questions

    func note(_ event: SimWorldEvent) {
        observer(event)
    }

    func record(_ violation: SimViolation) {
        state.withLock { state in
            state.violationCount += 1
            state.violations.append(violation)
            if state.violations.count > Self.retainedViolations {
                state.violations.removeFirst(state.violations.count - Self.retainedViolations)
            }
        }
        observer(.violation(violation))
    }

    /// Puts `ref` on `connection`'s screen, so that scanning it reaches the connection.
    func offerRef(_ ref: String, connection: SimConnectionID) {
        state.withLock { $0.refs[ref] = connection }
    }

    func withdrawRef(_ ref: String) {
        state.withLock { _ = $0.refs.removeValue(forKey: ref) }
    }

    /// `connection` waits for the phone of `phoneNumber` to enter a code; false without such an account.
    func offerCodePairing(phoneNumber: String, connection: SimConnectionID) -> Bool {
        state.withLock { state in
            guard state.accounts[phoneNumber] != nil else {
                return false
            }
            state.codePairings[phoneNumber] = connection
            return true
        }
    }

    func withdrawCodePairing(phoneNumber: String, connection: SimConnectionID) {
        state.withLock { state in
            if state.codePairings[phoneNumber] == connection {
                state.codePairings[phoneNumber] = nil
            }
        }
    }

    /// The highest companion device number: AD JIDs carry the device in one byte (binary.md).
    static let maxDeviceID: UInt16 = 255

    /// Takes the next free device number and the next key index of the account, for a pair-success
    /// about to be sent. Numbers are handed out in turn and reused only once free; nil when all
    /// `maxDeviceID` are linked (the phone has no room for another companion).
    func reserveDevice(phoneNumber: String) -> Reservation? {
        state.withLock { state in
            guard var account = state.accounts[phoneNumber] else {
                return nil
            }
            let start = (1...Self.maxDeviceID).contains(account.nextDeviceID) ? account.nextDeviceID : 1
            var candidate = start
            while state.devices[JID(user: phoneNumber, device: candidate, server: .whatsApp)] != nil {
                candidate = candidate == Self.maxDeviceID ? 1 : candidate + 1
                if candidate == start {
                    return nil
                }
            }
            let reserved = Reservation(deviceID: candidate, keyIndex: account.nextKeyIndex)
            account.nextDeviceID = candidate == Self.maxDeviceID ? 1 : candidate + 1
            account.nextKeyIndex &+= 1
            state.accounts[phoneNumber] = account
            return reserved
        }
    }

    /// The client countersigned pair-success: the device is linked (a reused device number starts
    /// with no queue and no sessions).
    func link(_ device: SimLinkedDevice, connection: SimConnectionID) {
        state.withLock { state in
            state.insert(device)
            state.messaging.forget(device: device.jid)
        }
        observer(.paired(connection, device: device.jid))
    }

    /// A login of `jid` with `noiseKey`: accepted when the device is linked with that key. Other
    /// connections logged in as it are told they are replaced.
    func login(_ jid: JID, noiseKey: [UInt8], connection: SimConnectionID) -> SimLinkedDevice? {
        let (device, replaced) = state.withLock { state -> (SimLinkedDevice?, [Deliver]) in
            guard let device = state.devices[jid], device.noisePublicKey == noiseKey,
                  state.connections[connection] != nil
            else {
                return (nil, [])
            }
            let others = Self.loggedInCallbacks(of: jid, in: state, sparing: connection)
            state.connections[connection]?.device = jid
            state.logins[jid, default: []].insert(connection)
            let count = state.logins[jid]?.count ?? 0
            state.maximumLogins[jid] = max(state.maximumLogins[jid] ?? 0, count)
            return (device, others)
        }
        if device != nil {
            observer(.loggedIn(connection, device: jid))
        }
        replaced.forEach { $0(.replaced) }
        return device
    }

    /// Records an accepted prekey upload (nothing when the device is gone).
    func recordPreKeyUpload(_ jid: JID, keys: [PreKeyBundle.OneTimePreKey], signedPreKey: SimSignedPreKey) {
        let recorded = state.withLock { state -> Bool in
            state.devices[jid]?.recordUpload(keys, signedPreKey: signedPreKey)
            return state.devices[jid] != nil
        }
        if recorded {
            observer(.preKeysChanged(devices: [jid]))
        }
    }

    /// Removes the device; its logged-in connections other than `sparing` get `.deviceRemoved`.
    @discardableResult
    func removeDevice(_ jid: JID, sparing: SimConnectionID?) -> Bool {
        let (removed, callbacks) = state.withLock { state -> (Bool, [Deliver]) in
            guard state.remove(jid) != nil else {
                return (false, [])
            }
            state.messaging.forget(device: jid)
            state.deliveryTargets[jid] = nil
            return (true, Self.loggedInCallbacks(of: jid, in: state, sparing: sparing))
        }
        if removed {
            observer(.unlinked(device: jid))
        }
        callbacks.forEach { $0(.deviceRemoved) }
        return removed
    }

    /// The connection ended: forget its refs, code pairing and login.
    func connectionEnded(_ id: SimConnectionID) {
        let existed = state.withLock { state -> Bool in
            guard let connection = state.connections.removeValue(forKey: id) else {
                return false
            }
            state.refs = state.refs.filter { $0.value != id }
            state.codePairings = state.codePairings.filter { $0.value != id }
            if let device = connection.device {
                state.logins[device]?.remove(id)
                if state.logins[device]?.isEmpty == true {
                    state.logins[device] = nil
                }
                if state.deliveryTargets[device] == id {
                    state.deliveryTargets[device] = nil
                }
            }
            return true
        }
        if existed {
            observer(.connectionClosed(id))
        }
    }

    static func loggedInCallbacks(of jid: JID, in state: State, sparing: SimConnectionID?) -> [Deliver] {
        (state.logins[jid] ?? []).sorted().filter { $0 != sparing }.compactMap { state.connections[$0]?.deliver }
    }
}
