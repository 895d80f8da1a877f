import DevicePool
import Foundation
import PostgresClient
import WAWire

/// The fleet invariants `pairgate chaos` proves after a run (docs/chaos.md): what the simulator
/// saw and what PostgreSQL holds, against what the run did. Each check reports PASS or FAIL with
/// its figures; the checker must be able to fail, and its tests make it.
public enum FleetInvariants {
    /// One invariant's verdict.
    public struct Check: Sendable, Codable, Hashable {
        public var name: String
        public var passed: Bool
        /// The figures behind the verdict, and on failure what broke it.
        public var detail: String

        public init(name: String, passed: Bool, detail: String) {
            self.name = name
            self.passed = passed
            self.detail = detail
        }

        /// `PASS name: detail` / `FAIL name: detail`.
        public var line: String { "\(passed ? "PASS" : "FAIL")  \(name): \(detail)" }
    }

    /// A device the run paired and expects back online with the credentials of its one pairing.
    public struct KeptDevice: Sendable, Hashable, Codable {
        public var deviceID: UUID
        /// The device's JID on the simulator (`phone:n@s.whatsapp.net`).
        public var jid: String

        public init(deviceID: UUID, jid: String) {
            self.deviceID = deviceID
            self.jid = jid
        }
    }

    /// A device the run removed (device_removed or unlink): logged out, never back.
    public struct RemovedDevice: Sendable, Hashable, Codable {
        public var deviceID: UUID
        public var jid: String
        /// The simulator's login count of the device right after the removal hit it.
        public var loginsAtRemoval: Int

        public init(deviceID: UUID, jid: String, loginsAtRemoval: Int) {
            self.deviceID = deviceID
            self.jid = jid
            self.loginsAtRemoval = loginsAtRemoval
        }
    }

    /// What the simulator observed (WASim's `SimStats`), as plain values.
    public struct SimulatorView: Sendable, Hashable, Codable {
        public var maxConcurrentPerDevice: Int
        public var devicesOverOne: [String]
        /// `<success>` sent per device JID over the whole run.
        public var loginsByDevice: [String: Int]
        /// Devices with a logged-in connection now.
        public var onlineDevices: Set<String>
        /// pair-device-sign replies that verified: one per scan that linked a device.
        public var pairingsCompleted: Int

        public init(maxConcurrentPerDevice: Int, devicesOverOne: [String], loginsByDevice: [String: Int], onlineDevices: Set<String>, pairingsCompleted: Int) {
            self.maxConcurrentPerDevice = maxConcurrentPerDevice
            self.devicesOverOne = devicesOverOne
            self.loginsByDevice = loginsByDevice
            self.onlineDevices = onlineDevices
            self.pairingsCompleted = pairingsCompleted
        }
    }

    /// What the run did, which bounds what the fleet may have done.
    public struct RunRecord: Sendable, Hashable, Codable {
        public var kept: [KeptDevice] = []
        public var removed: [RemovedDevice] = []
        /// Scans the run made that linked a device (one per device, by design).
        public var pairingsPerformed = 0
        /// Events that make every device connect again at most once each: gateway starts after the
        /// first, a second instance starting or stopping, PostgreSQL restarts.
        public var fleetEvents = 0
        /// Soft resets the run sent per device (a `replaced` device needs one to come back).
        public var resets: [UUID: Int] = [:]

        public init() {}
    }

    /// Reads PostgreSQL and runs every check; `policy` is the one the gateways ran with.
    public static func check(
        pool: PostgresPool, simulator: SimulatorView, run: RunRecord, policy: ReconnectPolicy = ReconnectPolicy()
    ) async throws -> [Check] {
        let history = try await transitionCounts(pool)
        let open = try await pool.query("SELECT count(*)::bigint FROM pairing_sessions WHERE ended_at IS NULL")[0].decode(0, as: Int64.self)
        let devices = try await deviceRows(pool)
        let disconnects = try await disconnectFigures(pool)
        let immediate = try await immediateReconnects(pool)
        return [
            concurrency(simulator),
            credentialsKept(run: run, devices: devices, simulator: simulator),
            removedStayGone(run: run, devices: devices, simulator: simulator),
            transitionsAllowed(history),
            noOpenPairing(Int(open)),
            attemptsBounded(run: run, simulator: simulator, disconnects: disconnects, immediate: immediate, policy: policy),
        ]
    }

    // MARK: The checks, each a pure function of what was read

    /// Invariant 1: no device ever had two logged-in connections at once.
    public static func concurrency(_ simulator: SimulatorView) -> Check {
        let over = simulator.devicesOverOne
        return Check(
            name: "one connection per device",
            passed: simulator.maxConcurrentPerDevice <= 1 && over.isEmpty,
            detail: "maximum concurrent logged-in connections per device = \(simulator.maxConcurrentPerDevice)"
                + (over.isEmpty ? "" : "; devices with more: \(over.prefix(5).joined(separator: ", "))")
        )
    }

    /// A device row as the checks need it.
    public struct DeviceRow: Sendable, Hashable {
        public var id: UUID
        public var jid: String?
        public var state: String
        public var credentials: Int

        public init(id: UUID, jid: String?, state: String, credentials: Int) {
            self.id = id
            self.jid = jid
            self.state = state
            self.credentials = credentials
        }
    }

    /// Invariant 2: every device not deliberately removed is online again, on the JID of its one
    /// pairing, with its credentials, and the simulator linked no more devices than the run scanned.
    public static func credentialsKept(run: RunRecord, devices: [UUID: DeviceRow], simulator: SimulatorView) -> Check {
        var problems: [String] = []
        var online = 0
        for device in run.kept {
            guard let row = devices[device.deviceID] else {
                problems.append("\(device.deviceID) is gone from the database")
                continue
            }
            if row.jid != device.jid { problems.append("\(device.deviceID) has jid \(row.jid ?? "none"), paired as \(device.jid)") }
            if row.credentials == 0 { problems.append("\(device.deviceID) has no credentials") }
            if row.state != "online" { problems.append("\(device.deviceID) is \(row.state)") }
            if !simulator.onlineDevices.contains(device.jid) { problems.append("\(device.jid) is not logged in on the simulator") }
            if row.state == "online", simulator.onlineDevices.contains(device.jid) { online += 1 }
        }
        if simulator.pairingsCompleted != run.pairingsPerformed {
            problems.append("the simulator completed \(simulator.pairingsCompleted) pairings, the run scanned \(run.pairingsPerformed)")
        }
        return Check(
            name: "no lost credentials, no second scan",
            passed: problems.isEmpty,
            detail: "\(online)/\(run.kept.count) kept devices online on their first pairing; pairings \(simulator.pairingsCompleted) for \(run.pairingsPerformed) scans"
                + summary(problems)
        )
    }

    /// Invariant 3: a removed device is logged out and never logged in again after the removal.
    public static func removedStayGone(run: RunRecord, devices: [UUID: DeviceRow], simulator: SimulatorView) -> Check {
        var problems: [String] = []
        var clean = 0
        for device in run.removed {
            let before = problems.count
            let state = devices[device.deviceID]?.state ?? "missing"
            if state != "logged_out" { problems.append("\(device.deviceID) is \(state)") }
            if (devices[device.deviceID]?.credentials ?? 0) > 0 { problems.append("\(device.deviceID) still has credentials") }
            let logins = simulator.loginsByDevice[device.jid] ?? 0
            if logins > device.loginsAtRemoval { problems.append("\(device.jid) logged in \(logins - device.loginsAtRemoval) times after its removal") }
            if simulator.onlineDevices.contains(device.jid) { problems.append("\(device.jid) is online on the simulator") }
            if problems.count == before { clean += 1 }
        }
        return Check(
            name: "removed devices stay logged out",
            passed: problems.isEmpty,
            detail: "\(clean)/\(run.removed.count) removed devices logged out, without credentials, no login after the removal"
                + summary(problems)
        )
    }

    /// Invariant 4: every persisted history row is a transition `DeviceStateMachine` allows.
    public static func transitionsAllowed(_ counts: [TransitionCount]) -> Check {
        let forbidden = counts.filter { count in
            guard let from = DeviceState.Kind(rawValue: count.from), let to = DeviceState.Kind(rawValue: count.to) else { return true }
            return !DeviceStateMachine.allows(from: from, to: to)
        }
        let total = counts.reduce(0) { $0 + $1.count }
        return Check(
            name: "every history row is an allowed transition",
            passed: forbidden.isEmpty,
            detail: "\(total) transitions, \(forbidden.reduce(0) { $0 + $1.count }) forbidden"
                + (forbidden.isEmpty ? "" : ": " + forbidden.map { "\($0.from) → \($0.to) ×\($0.count)" }.joined(separator: ", "))
        )
    }

    /// Invariant 5: no pairing session is left open.
    public static func noOpenPairing(_ open: Int) -> Check {
        Check(name: "no pairing left open", passed: open == 0, detail: "\(open) open pairing sessions")
    }

    /// Per device: retrying disconnects the gateway recorded, and the longest backoff it chose.
    public struct DisconnectFigures: Sendable, Hashable {
        public var retrying: Int
        public var longestBackoffMilliseconds: Int64

        public init(retrying: Int, longestBackoffMilliseconds: Int64) {
            self.retrying = retrying
            self.longestBackoffMilliseconds = longestBackoffMilliseconds
        }
    }

    /// Invariant 6: connection attempts stay within what the reconnect policy allows.
    ///
    /// Every login the simulator sees for device d has exactly one trigger, and each trigger
    /// allows at most one login:
    ///
    ///     logins(d) ≤ 1 + fleetEvents + resets(d) + retrying(d)
    ///
    /// 1 is the login after the pairing's 515; `fleetEvents` counts the moments every device may
    /// connect once more (a gateway restart, a second instance starting or stopping, PostgreSQL
    /// restarting); `resets(d)` the soft resets the run sent; `retrying(d)` the disconnects the
    /// gateway recorded for d with a decision that reconnects (`backoff`, `reconnect_now`).
    /// Suspended (`replaced`, `client_outdated`) and logged-out devices add nothing: a login
    /// after one without a reset breaks the bound. Besides: no backoff was longer than the
    /// policy's cap, and no device took more than `immediateLimit` immediate reconnects (515)
    /// within `immediateWindow`.
    public static func attemptsBounded(
        run: RunRecord, simulator: SimulatorView, disconnects: [UUID: DisconnectFigures], immediate: [UUID: [Date]],
        policy: ReconnectPolicy = ReconnectPolicy()
    ) -> Check {
        var problems: [String] = []
        var largest = 0, largestBound = 0, total = 0
        for device in run.kept + run.removed.map({ KeptDevice(deviceID: $0.deviceID, jid: $0.jid) }) {
            let logins = simulator.loginsByDevice[device.jid] ?? 0
            let bound = 1 + run.fleetEvents + run.resets[device.deviceID, default: 0] + (disconnects[device.deviceID]?.retrying ?? 0)
            total += logins
            if logins > largest { (largest, largestBound) = (logins, bound) }
            if logins > bound { problems.append("\(device.jid): \(logins) logins, bound \(bound)") }
        }
        let cap = Int64(policy.cap.seconds * 1000)
        let longest = disconnects.values.map(\.longestBackoffMilliseconds).max() ?? 0
        if longest > cap { problems.append("a backoff of \(longest) ms exceeds the cap of \(cap) ms") }
        let window = policy.immediateWindow.seconds
        for (device, times) in immediate {
            let sorted = times.sorted()
            for (index, time) in sorted.enumerated() {
                let inWindow = sorted[index...].prefix { $0.timeIntervalSince(time) < window }.count
                if inWindow > policy.immediateLimit {
                    problems.append("\(device) reconnected at once \(inWindow) times within \(Int(window)) s")
                    break
                }
            }
        }
        let devices = run.kept.count + run.removed.count
        return Check(
            name: "connection attempts within the reconnect policy",
            passed: problems.isEmpty,
            detail: "\(total) logins for \(devices) devices; busiest device \(largest) (its bound \(largestBound)); longest backoff \(longest) ms (cap \(cap) ms)"
                + summary(problems)
        )
    }

    static func summary(_ problems: [String]) -> String {
        guard !problems.isEmpty else { return "" }
        return "; \(problems.count) problems: " + problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? "; …" : "")
    }

    // MARK: Reading PostgreSQL

    /// How many history rows go from one state to another.
    public struct TransitionCount: Sendable, Hashable {
        public var from: String
        public var to: String
        public var count: Int

        public init(from: String, to: String, count: Int) {
            self.from = from
            self.to = to
            self.count = count
        }
    }

    public static func transitionCounts(_ pool: PostgresPool) async throws -> [TransitionCount] {
        let rows = try await pool.query("SELECT from_state, to_state, count(*)::bigint FROM state_transitions GROUP BY 1, 2 ORDER BY 1, 2")
        return try rows.map { TransitionCount(from: try $0.decode(0), to: try $0.decode(1), count: Int(try $0.decode(2, as: Int64.self))) }
    }

    public static func deviceRows(_ pool: PostgresPool) async throws -> [UUID: DeviceRow] {
        let rows = try await pool.query("""
            SELECT d.id, d.jid, d.state, (SELECT count(*) FROM device_credentials c WHERE c.device_id = d.id)::bigint
            FROM devices d
            """)
        var devices: [UUID: DeviceRow] = [:]
        for row in rows {
            let id: UUID = try row.decode(0)
            devices[id] = DeviceRow(id: id, jid: try row.decode(1), state: try row.decode(2), credentials: Int(try row.decode(3, as: Int64.self)))
        }
        return devices
    }

    public static func disconnectFigures(_ pool: PostgresPool) async throws -> [UUID: DisconnectFigures] {
        let rows = try await pool.query("""
            SELECT device_id,
                   count(*) FILTER (WHERE decision IN ('backoff', 'reconnect_now'))::bigint,
                   coalesce(max(backoff_ms), 0)::bigint
            FROM disconnects GROUP BY device_id
            """)
        var figures: [UUID: DisconnectFigures] = [:]
        for row in rows {
            figures[try row.decode(0)] = DisconnectFigures(
                retrying: Int(try row.decode(1, as: Int64.self)), longestBackoffMilliseconds: try row.decode(2, as: Int64.self)
            )
        }
        return figures
    }

    public static func immediateReconnects(_ pool: PostgresPool) async throws -> [UUID: [Date]] {
        let rows = try await pool.query("SELECT device_id, at FROM disconnects WHERE decision = 'reconnect_now' ORDER BY at")
        var times: [UUID: [Date]] = [:]
        for row in rows { times[try row.decode(0), default: []].append(try row.decode(1)) }
        return times
    }
}
