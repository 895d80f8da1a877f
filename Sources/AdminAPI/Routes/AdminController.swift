import DevicePool
import Foundation
import Hummingbird
import PostgresStore

private struct CreateTenantBody: Decodable {
    var name: String
    var hosts: [String]
}

private struct HostBody: Decodable {
    var host: String
}

private struct TokenBody: Decodable {
    var label: String?

    enum CodingKeys: String, CodingKey {
        case label
    }

    init(from decoder: any Decoder) throws {
        label = try decoder.container(keyedBy: CodingKeys.self).optional(String.self, forKey: .label)
    }
}

private struct TenantView: Encodable {
    var id: String
    var name: String
    var hosts: [String]
    var createdAt: Date
    var disabledAt: Date?
    var activeTokens: Int

    init(_ tenant: Tenant) {
        id = tenant.id.api
        name = tenant.name
        hosts = tenant.hosts
        createdAt = tenant.createdAt
        disabledAt = tenant.disabledAt
        activeTokens = tenant.activeTokens
    }
}

private struct TenantsView: Encodable {
    var tenants: [TenantView]
}

private struct CreatedTenantView: Encodable {
    var tenant: TenantView
    /// Shown once; only its SHA-256 is stored.
    var token: String
}

private struct TokenView: Encodable {
    var id: String
    var tenantID: String
    var label: String?
    var createdAt: Date
    var revokedAt: Date?

    init(_ info: TokenInfo) {
        id = info.id.api
        tenantID = info.tenantID.api
        label = info.label
        createdAt = info.createdAt
        revokedAt = info.revokedAt
    }
}

private struct TokensView: Encodable {
    var tokens: [TokenView]
}

private struct IssuedTokenView: Encodable {
    var id: String
    var tenantID: String
    var label: String?
    var createdAt: Date
    /// Shown once; only its SHA-256 is stored.
    var token: String
}

private struct FleetView: Encodable {
    var instance: String
    var devicesByState: [String: Int]
    var devicesByInstance: [InstanceView]
    var unowned: [String: Int]
    var openPairings: Int
}

private struct InstanceView: Encodable {
    var instance: String
    var devicesByState: [String: Int]
    var total: Int
}

/// The admin API under /admin: tenants, their hosts and tokens, the fleet's devices, and a
/// reset of any device.
struct AdminController: Sendable {
    let tenants: TenantStore
    let devices: PostgresDeviceStore
    let fleet: FleetBus
    let resets: DeviceResets
    let instanceID: String

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.post("/tenants", use: createTenant)
        router.get("/tenants", use: listTenants)
        router.get("/tenants/{tenant}", use: showTenant)
        router.post("/tenants/{tenant}/disable") { _, context in try await setDisabled(true, context) }
        router.post("/tenants/{tenant}/enable") { _, context in try await setDisabled(false, context) }
        router.post("/tenants/{tenant}/hosts", use: addHost)
        router.delete("/tenants/{tenant}/hosts/{host}", use: removeHost)
        router.post("/tenants/{tenant}/tokens", use: issueToken)
        router.get("/tenants/{tenant}/tokens", use: listTokens)
        router.delete("/tenants/{tenant}/tokens/{token}", use: revokeToken)
        router.get("/fleet", use: showFleet)
        router.post("/devices/{id}/reset", use: resetDevice)
    }

    @Sendable func createTenant(_ request: Request, context: APIContext) async throws -> Response {
        let body = try await request.decodeJSON(CreateTenantBody.self)
        let created = try await tenants.create(name: body.name, hosts: body.hosts)
        fleet.announceTenancyChange()
        return try APIJSON.response(.created, CreatedTenantView(tenant: TenantView(created.tenant), token: created.token.value))
    }

    @Sendable func listTenants(_ request: Request, context: APIContext) async throws -> Response {
        try APIJSON.response(.ok, TenantsView(tenants: try await tenants.list().map(TenantView.init)))
    }

    @Sendable func showTenant(_ request: Request, context: APIContext) async throws -> Response {
        try APIJSON.response(.ok, TenantView(try await tenant(context)))
    }

    @Sendable func addHost(_ request: Request, context: APIContext) async throws -> Response {
        let id = try tenantID(context)
        let body = try await request.decodeJSON(HostBody.self)
        guard let updated = try await tenants.addHost(body.host, tenantID: id) else { throw tenantNotFound }
        fleet.announceTenancyChange()
        return try APIJSON.response(.created, TenantView(updated))
    }

    @Sendable func removeHost(_ request: Request, context: APIContext) async throws -> Response {
        let id = try tenantID(context)
        guard let host = context.parameters.get("host"),
              try await tenants.removeHost(host, tenantID: id)
        else {
            throw APIError.notFound(.hostNotFound, "This tenant has no such host")
        }
        fleet.announceTenancyChange()
        return Response(status: .noContent)
    }

    @Sendable func issueToken(_ request: Request, context: APIContext) async throws -> Response {
        let id = try tenantID(context)
        let body = try await request.decodeJSON(TokenBody.self)
        if let label = body.label, !APIText.fits(label, 0...100) {
            throw APIError.invalid("label must be at most 100 characters, without NUL")
        }
        guard let issued = try await tenants.issueToken(tenantID: id, label: body.label) else { throw tenantNotFound }
        return try APIJSON.response(.created, IssuedTokenView(
            id: issued.info.id.api, tenantID: id.api, label: issued.info.label, createdAt: issued.info.createdAt, token: issued.token.value
        ))
    }

    @Sendable func listTokens(_ request: Request, context: APIContext) async throws -> Response {
        let id = try await tenant(context).id
        return try APIJSON.response(.ok, TokensView(tokens: try await tenants.tokens(tenantID: id).map(TokenView.init)))
    }

    @Sendable func revokeToken(_ request: Request, context: APIContext) async throws -> Response {
        let id = try tenantID(context)
        guard let tokenID = context.parameters.get("token").flatMap(UUID.init(uuidString:)),
              try await tenants.revokeToken(tokenID, tenantID: id) != nil
        else {
            throw APIError.notFound(.tokenNotFound, "This tenant has no such token")
        }
        fleet.announceTenancyChange()
        return Response(status: .noContent)
    }

    @Sendable func showFleet(_ request: Request, context: APIContext) async throws -> Response {
        try APIJSON.response(.ok, try await fleetView())
    }

    @Sendable func resetDevice(_ request: Request, context: APIContext) async throws -> Response {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
              try await devices.device(id) != nil
        else {
            throw APIError.notFound(.deviceNotFound, "No such device")
        }
        let mode = try await request.decodeJSON(ModeBody.self).mode ?? .soft
        let outcome = await resets.reset(id, mode: mode)
        if let problem = ResetView.problem(outcome) { throw problem }
        return try APIJSON.response(.ok, ResetView(deviceID: id, outcome))
    }

    private var tenantNotFound: APIError { .notFound(.tenantNotFound, "No such tenant") }

    private func tenantID(_ context: APIContext) throws -> UUID {
        guard let id = context.parameters.get("tenant").flatMap(UUID.init(uuidString:)) else { throw tenantNotFound }
        return id
    }

    private func tenant(_ context: APIContext) async throws -> Tenant {
        guard let tenant = try await tenants.tenant(id: try tenantID(context)) else { throw tenantNotFound }
        return tenant
    }

    private func setDisabled(_ disabled: Bool, _ context: APIContext) async throws -> Response {
        guard let tenant = try await tenants.setDisabled(disabled, tenantID: try tenantID(context)) else { throw tenantNotFound }
        fleet.announceTenancyChange()
        return try APIJSON.response(.ok, TenantView(tenant))
    }

    private func fleetView() async throws -> FleetView {
        let rows = try await devices.countsByStateAndOwner()
        var byState = Dictionary(uniqueKeysWithValues: DeviceState.Kind.allCases.map { ($0.rawValue, 0) })
        var unowned = byState
        var byInstance: [String: [String: Int]] = [:]
        for row in rows {
            byState[row.state.rawValue, default: 0] += row.count
            if let owner = row.owner {
                byInstance[owner, default: [:]][row.state.rawValue, default: 0] += row.count
            } else {
                unowned[row.state.rawValue, default: 0] += row.count
            }
        }
        return FleetView(
            instance: instanceID,
            devicesByState: byState,
            devicesByInstance: byInstance.keys.sorted().map { owner in
                let states = byInstance[owner] ?? [:]
                return InstanceView(instance: owner, devicesByState: states, total: states.values.reduce(0, +))
            },
            unowned: unowned,
            openPairings: try await devices.openPairingCount()
        )
    }
}
