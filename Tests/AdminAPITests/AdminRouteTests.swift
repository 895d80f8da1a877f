import AdminAPI
import Foundation
import NIOHTTP1
import PairgateTestSupport
import Testing

@Suite("Admin routes", .requiresDatabase)
struct AdminRouteTests {
    @Test func adminRoutesNeedTheAdminTokenNotATenantToken() async throws {
        try await APIHarness.run { h in
            #expect(try await h.request(.GET, "/admin/tenants", host: h.acme.host).status == 401)
            let tenantToken = try await h.request(.GET, "/admin/tenants", host: h.acme.host, token: h.acme.token)
            #expect(tenantToken.status == 401)
            #expect(tenantToken.header("WWW-Authenticate") != nil)
            #expect(try await h.admin(.GET, "/admin/tenants").status == 200)
        }
        try await APIHarness.run(configure: { $0.adminToken = nil }) { h in
            let closed = try await h.admin(.GET, "/admin/tenants")
            #expect(closed.status == 401)
            #expect(closed.json["code"] as? String == "admin_disabled")
        }
    }

    @Test func aTenantCreatedByTheAdminWorksWithTheTokenShownOnce() async throws {
        try await APIHarness.run { h in
            let created = try await h.admin(.POST, "/admin/tenants", json: #"{"name":"Gamma","hosts":["Gamma.Example"]}"#)
            #expect(created.status == 201)
            let token = try #require(created.json["token"] as? String)
            let tenant = try #require(created.json["tenant"] as? [String: any Sendable])
            #expect(tenant["hosts"] as? [String] == ["gamma.example"])
            let id = try #require(tenant["id"] as? String)
            #expect(try await h.request(.GET, "/status", host: "gamma.example", token: token).status == 200)

            let listed = try await h.admin(.GET, "/admin/tenants")
            #expect((listed.json["tenants"] as? [Any])?.count == 3)
            #expect(!listed.body.contains(token))
            let tokens = try await h.admin(.GET, "/admin/tenants/\(id)/tokens")
            #expect((tokens.json["tokens"] as? [Any])?.count == 1)
            #expect(!tokens.body.contains(token))

            let taken = try await h.admin(.POST, "/admin/tenants", json: #"{"name":"Copy","hosts":["acme.example"]}"#)
            #expect(taken.status == 409)
            #expect(taken.json["code"] as? String == "host_taken")
            let badHost = try await h.admin(.POST, "/admin/tenants", json: #"{"name":"Bad","hosts":["not a host"]}"#)
            #expect(badHost.status == 422)
            #expect(badHost.json["code"] as? String == "invalid_host")

            let added = try await h.admin(.POST, "/admin/tenants/\(id)/hosts", json: #"{"host":"gamma2.example"}"#)
            #expect(added.status == 201)
            #expect(try await h.request(.GET, "/status", host: "gamma2.example", token: token).status == 200)
            #expect(try await h.admin(.POST, "/admin/tenants/\(id)/hosts", json: #"{"host":"beta.example"}"#).status == 409)
            #expect(try await h.admin(.DELETE, "/admin/tenants/\(id)/hosts/beta.example").status == 404)
            #expect(try await h.admin(.GET, "/admin/tenants/\(UUID().uuidString)").status == 404)
        }
    }

    @Test func fleetStatusCountsDevicesByStateAndInstance() async throws {
        try await APIHarness.run { h in
            _ = try await h.startQRPairing(h.acme)
            let fleet = try await h.admin(.GET, "/admin/fleet")
            #expect(fleet.status == 200)
            #expect((fleet.json["devices_by_state"] as? [String: any Sendable])?["pairing"] as? Int == 1)
            #expect(fleet.json["open_pairings"] as? Int == 1)
            let instances = try #require(fleet.json["devices_by_instance"] as? [[String: any Sendable]])
            #expect(instances.first?["instance"] as? String == "a")
            #expect(instances.first?["total"] as? Int == 1)
        }
    }

    @Test func theAdminCanResetAnyDevice() async throws {
        try await APIHarness.run { h in
            let (reply, _) = try await h.startQRPairing(h.beta)
            let deviceID = try #require(reply.json["device_id"] as? String)
            let reset = try await h.admin(.POST, "/admin/devices/\(deviceID)/reset", json: #"{"mode":"soft"}"#)
            #expect(reset.status == 200)
            #expect(reset.json["result"] as? String == "applied")
            #expect(try await h.admin(.POST, "/admin/devices/\(UUID().uuidString)/reset", json: #"{"mode":"soft"}"#).status == 404)
        }
    }
}
