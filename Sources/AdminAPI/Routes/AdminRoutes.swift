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

extension GatewayAPI {
    func addAdminRoutes<R>(_ routes: Routes<R>) {
        routes.post("/tenants") { request, _ in
            let body = try await request.decodeJSON(CreateTenantBody.self)
            let created = try await storeCall { try await tenants.create(name: body.name, hosts: body.hosts) }
            tenancyChanged()
            return try APIJSON.response(.created, CreatedTenantView(tenant: TenantView(created.tenant), token: created.token.value))
        }
        routes.get("/tenants") { _, _ in
            try APIJSON.response(.ok, TenantsView(tenants: try await tenants.list().map(TenantView.init)))
        }
        routes.get("/tenants/{tenant}") { _, context in
            try APIJSON.response(.ok, TenantView(try await tenant(context)))
        }
        routes.post("/tenants/{tenant}/disable") { _, context in
            try await setDisabled(true, context)
        }
        routes.post("/tenants/{tenant}/enable") { _, context in
            try await setDisabled(false, context)
        }
        routes.post("/tenants/{tenant}/hosts") { request, context in
            let id = try tenantID(context)
            let body = try await request.decodeJSON(HostBody.self)
            guard let updated = try await storeCall({ try await tenants.addHost(body.host, tenantID: id) }) else {
                throw tenantNotFound
            }
            tenancyChanged()
            return try APIJSON.response(.created, TenantView(updated))
        }
        routes.delete("/tenants/{tenant}/hosts/{host}") { _, context in
            let id = try tenantID(context)
            guard let host = context.parameters.get("host"),
                  try await tenants.removeHost(host, tenantID: id)
            else {
                throw APIError.notFound("host_not_found", "This tenant has no such host")
            }
            tenancyChanged()
            return Response(status: .noContent)
        }
        routes.post("/tenants/{tenant}/tokens") { request, context in
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
        routes.get("/tenants/{tenant}/tokens") { _, context in
            let id = try await tenant(context).id
            return try APIJSON.response(.ok, TokensView(tokens: try await tenants.tokens(tenantID: id).map(TokenView.init)))
        }
        routes.delete("/tenants/{tenant}/tokens/{token}") { _, context in
            let id = try tenantID(context)
            guard let tokenID = context.parameters.get("token").flatMap(UUID.init(uuidString:)),
                  try await tenants.revokeToken(tokenID, tenantID: id) != nil
            else {
                throw APIError.notFound("token_not_found", "This tenant has no such token")
            }
            tenancyChanged()
            return Response(status: .noContent)
        }
        routes.get("/fleet") { _, _ in
            try APIJSON.response(.ok, try await fleet())
        }
        routes.post("/devices/{id}/reset") { request, context in
            guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
                  try await devices.device(id) != nil
            else {
                throw APIError.notFound("device_not_found", "No such device")
            }
            let mode = try await request.decodeJSON(ModeBody.self).mode ?? .soft
            let view = await reset(id, mode: mode)
            if view.result == "failed" { throw resetProblem(view) }
            return try APIJSON.response(.ok, view)
        }
    }

    /// Cached host and token lookups here and on every other instance are stale now.
    private func tenancyChanged() {
        directory.invalidate()
        bus?.announceTenancyChange()
    }

    private var tenantNotFound: APIError { .notFound("tenant_not_found", "No such tenant") }

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
        tenancyChanged()
        return try APIJSON.response(.ok, TenantView(tenant))
    }

    /// Store validation errors become 422 (bad input) or 409 (a host already taken).
    private func storeCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            if error.code == .hostTaken {
                throw APIError(.conflict, error.code.rawValue, "The host already belongs to a tenant", detail: error.message)
            }
            throw APIError(.unprocessableContent, error.code.rawValue, "The request is not valid", detail: error.message)
        }
    }

    private func fleet() async throws -> FleetView {
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
            instance: supervisor.configuration.instanceID,
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
