import DevicePool
import Foundation
import Hummingbird
import PostgresStore
import WAClient

/// A device as its tenant manages it: what it does, what the tenant wants of it, its settings.
/// Never keys, never the full number, never the proxy's credentials.
struct ManagedDeviceView: Encodable {
    var id: String
    var name: String?
    var state: String
    var stateReason: String?
    var since: Date
    var desiredState: DesiredState
    var number: String?
    var platform: String?
    var nextReconnectAt: Date?
    /// The instance holding the device's live lease: the one connecting it.
    var owner: String?
    var lastDisconnect: DisconnectView?
    var proxy: ProxyView?
    var labels: [String: String]
    var createdAt: Date

    init(_ device: ManagedDevice, lastDisconnect: DisconnectRecord?, now: Date) {
        let record = device.record
        id = record.id.api
        name = record.name
        state = record.state.kind.rawValue
        stateReason = record.state.reason
        since = record.stateSince
        desiredState = record.desiredState
        number = MaskedNumber.from(jid: record.jid)
        platform = record.platform
        nextReconnectAt = record.state.nextAttemptAt
        if let expires = record.leaseExpiresAt, expires > now { owner = record.leaseOwner }
        self.lastDisconnect = lastDisconnect.map(DisconnectView.init)
        proxy = device.proxyEndpoint.flatMap(ProxyConfiguration.init(url:)).map(ProxyView.init)
        labels = device.labels
        createdAt = device.createdAt
    }
}

/// A device's own proxy without its credentials.
struct ProxyView: Encodable {
    var scheme: String
    var host: String
    var port: Int

    init(_ proxy: ProxyConfiguration) {
        scheme = proxy.kind.rawValue
        host = proxy.host
        port = proxy.port
    }
}

private struct DeviceListView: Encodable {
    var devices: [ManagedDeviceView]
    var nextCursor: String?
}

/// The tenant's devices over their whole life: list and show them, name, label and proxy them,
/// stop and start them, delete them. Stopping is a persisted desired state that every instance
/// obeys (docs/device-lifecycle.md); a device's owner is asked to act over the fleet bus, as
/// for resets.
struct DevicesController: Sendable {
    let devices: PostgresDeviceStore
    let resets: DeviceResets
    let supervisor: Supervisor
    let sealer: CredentialSealer
    let statusCache: StatusCache
    let now: @Sendable () -> Date

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.get("/devices", use: list)
        router.get("/devices/{id}", use: show)
        router.patch("/devices/{id}", use: change)
        router.delete("/devices/{id}", use: delete)
        router.post("/devices/{id}/stop", use: stop)
        router.post("/devices/{id}/start", use: start)
    }

    @Sendable func list(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        var filter = DeviceFilter()
        for text in request.uri.queryParameters.getAll("state") {
            guard let kind = DeviceState.Kind(rawValue: text) else {
                throw APIError.invalid("state must be one of \(DeviceState.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.states.insert(kind)
        }
        if let text = request.query("desired_state") {
            guard let desired = DesiredState(rawValue: text) else { throw APIError.invalid("desired_state must be running or stopped") }
            filter.desiredState = desired
        }
        // The same label asked with two values matches nothing (a label has one value).
        var contradictory = false
        for text in request.uri.queryParameters.getAll("label") {
            let (key, value) = try DeviceLabels.filter(text)
            if let asked = filter.labels[key], asked != value { contradictory = true }
            filter.labels[key] = value
        }
        var limit = 50
        if let text = request.query("limit") {
            guard let value = Int(text), (1...200).contains(value) else { throw APIError.invalid("limit must be 1 to 200") }
            limit = value
        }
        var position: DevicePosition?
        if let text = request.query("cursor") {
            guard let parsed = DevicePosition(token: text) else { throw APIError(.badRequest, .invalidCursor, "The cursor is malformed") }
            position = parsed
        }
        let found = contradictory
            ? [] : try await devices.managedDevices(tenantID: access.tenantID, filter: filter, after: position, limit: limit + 1)
        let page = Array(found.prefix(limit))
        let last = try await devices.lastDisconnects(deviceIDs: page.map(\.record.id))
        let now = now()
        return try APIJSON.response(.ok, DeviceListView(
            devices: page.map { ManagedDeviceView($0, lastDisconnect: last[$0.record.id], now: now) },
            nextCursor: found.count > limit ? page.last?.position.token : nil
        ))
    }

    @Sendable func show(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        return try await view(of: try await tenantDevice(context, access), status: .ok)
    }

    @Sendable func change(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let id = try deviceID(context)
        let body = try await request.decodeJSON(DeviceSettingsBody.self)
        // The device first: its settings are judged only once it is there.
        _ = try await tenantDevice(context, access)
        let change = try body.change(deviceID: id, sealer: sealer.tenant(access.tenantID))
        guard try await devices.changeSettings(change, deviceID: id, tenantID: access.tenantID, maximumLabels: DeviceLabels.maximumCount) else {
            throw deviceNotFound
        }
        statusCache.invalidate(tenantID: access.tenantID)
        return try await view(of: try await tenantDevice(context, access), status: .ok)
    }

    /// Persists the stop, then has the device's owner close it. 200 once nobody runs it; 202 when
    /// its owner did not answer in time — the stop stands, and every instance closes the stopped
    /// devices it holds within `claimInterval`.
    @Sendable func stop(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let id = try deviceID(context)
        switch try await devices.setDesiredState(.stopped, deviceID: id, tenantID: access.tenantID) {
        case .notFound:
            throw deviceNotFound
        case .pairing:
            throw APIError(.conflict, .devicePairing, "This device's pairing is running",
                           detail: "a pairing is not stopped; cancel it with POST /reset")
        case .changed:
            break
        }
        statusCache.invalidate(tenantID: access.tenantID)
        let outcome = await resets.stop(id)
        statusCache.invalidate(tenantID: access.tenantID)
        switch outcome {
        case .applied, .unchanged: return try await view(of: try await tenantDevice(context, access), status: .ok)
        case .failed(.unknownDevice): throw deviceNotFound
        case .elsewhere, .failed: return try await view(of: try await tenantDevice(context, access), status: .accepted)
        }
    }

    /// Persists the start, then connects the device here when its lease is free. 200 when it
    /// runs (here or, as before, elsewhere); 202 when an instance still holds the lease of the
    /// stopped device — the claim loop takes it once that lease is free.
    @Sendable func start(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let before = try await tenantDevice(context, access)
        guard case .changed = try await devices.setDesiredState(.running, deviceID: before.record.id, tenantID: access.tenantID) else {
            throw deviceNotFound
        }
        statusCache.invalidate(tenantID: access.tenantID)
        var status = HTTPResponse.Status.ok
        do {
            _ = try await supervisor.startDevice(before.record.id)
        } catch let error as SupervisorError where error.code == .notHere || error.code == .shuttingDown {
            if before.record.desiredState == .stopped { status = .accepted }
        } catch let error as SupervisorError where error.code == .unknownDevice {
            throw deviceNotFound
        }
        statusCache.invalidate(tenantID: access.tenantID)
        return try await view(of: try await tenantDevice(context, access), status: status)
    }

    /// Logs the device out upstream if it is connected (its owner does, as for a logout
    /// reset), then deletes it with its credentials, protocol state and queued messages; its
    /// history stays until retention removes it.
    @Sendable func delete(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let device = try await tenantDevice(context, access)
        statusCache.invalidate(tenantID: access.tenantID)
        defer { statusCache.invalidate(tenantID: access.tenantID) }
        let logout = await resets.reset(device.record.id, mode: .logout)
        if let problem = ResetView.problem(logout) { throw problem }
        switch try await devices.deleteDevice(device.record.id, tenantID: access.tenantID, instance: supervisor.configuration.instanceID) {
        case .deleted:
            return Response(status: .noContent)
        case .notFound:
            throw deviceNotFound
        case .inUse:
            throw APIError(.conflict, .deviceInUse, "The device is in use again",
                           detail: "it was paired, or a pairing of it started, while it was being deleted; delete it again")
        }
    }

    // MARK: Helpers

    private var deviceNotFound: APIError { .notFound(.deviceNotFound, "No such device") }

    private func deviceID(_ context: APIContext) throws -> UUID {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else { throw deviceNotFound }
        return id
    }

    /// The `{id}` device, if it is the tenant's; another tenant's device is as absent as a missing one.
    private func tenantDevice(_ context: APIContext, _ access: TenantAccess) async throws -> ManagedDevice {
        guard let device = try await devices.managedDevice(try deviceID(context), tenantID: access.tenantID) else { throw deviceNotFound }
        return device
    }

    private func view(of device: ManagedDevice, status: HTTPResponse.Status) async throws -> Response {
        let last = try await devices.lastDisconnects(deviceIDs: [device.record.id])
        return try APIJSON.response(status, ManagedDeviceView(device, lastDisconnect: last[device.record.id], now: now()))
    }
}

extension DevicePosition {
    /// `<creation time in microseconds>.<device id>` of the last device returned.
    var token: String { "\(createdMicroseconds).\(id.api)" }

    init?(token: String) {
        let parts = token.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, (1...18).contains(parts[0].count), parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
              let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1]))
        else { return nil }
        self.init(createdMicroseconds: micros, id: id)
    }
}
