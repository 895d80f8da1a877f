import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
@testable import PostgresStore
import Testing

/// GET /status at 10,000 devices per tenant: a page is an ordered index range, never a scan and
/// a sort of the tenant's devices, and a page's last disconnects are index lookups. Checked in the
/// planner's own words (EXPLAIN), not by timing.
@Suite("GET /status query plans at 10,000 devices", .requiresDatabase)
struct StatusQueryPlanTests {
    @Test func aPageOfDevicesAndTheirLastDisconnectsAreIndexLookups() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 2)
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenants = TenantStore(pool: pool)
            let acme = try await tenants.create(name: "Acme", hosts: ["acme.example"]).tenant.id
            let beta = try await tenants.create(name: "Beta", hosts: ["beta.example"]).tenant.id
            for tenant in [acme, beta] {
                try await pool.query("""
                    INSERT INTO devices (tenant_id, state, created_at)
                    SELECT $1, 'online', now() - make_interval(secs => n) FROM generate_series(1, 10000) AS n
                    """, [tenant])
            }
            try await pool.query("""
                INSERT INTO disconnects (device_id, stage, category, decision, instance, at)
                SELECT d.id, 'stream', 'network', 'backoff', 'a', now() - make_interval(secs => n)
                FROM devices d, generate_series(1, 3) AS n
                """)
            try await pool.query("""
                INSERT INTO state_transitions (device_id, from_state, to_state, instance, at)
                SELECT d.id, 'connecting', 'online', 'a', now() - make_interval(secs => n)
                FROM devices d, generate_series(1, 3) AS n
                """)
            try await pool.query("ANALYZE")
            let store = PostgresDeviceStore(pool: pool)

            let first = try await store.devicePage(tenantID: acme, after: nil, limit: 500)
            #expect(first.devices.count == 500)
            let cursor = try #require(first.next)
            let second = try await store.devicePage(tenantID: acme, after: cursor, limit: 500)
            #expect(second.devices.count == 500)
            #expect(Set(first.devices.map(\.id)).isDisjoint(with: second.devices.map(\.id)))

            let firstParameters: [any PostgresEncodable] = [acme, Int64(501)]
            let nextParameters: [any PostgresEncodable] = [acme, cursor.createdAt, cursor.id, Int64(501)]
            for plan in [
                try await explain(pool, PostgresDeviceStore.firstPageSQL, firstParameters),
                try await explain(pool, PostgresDeviceStore.nextPageSQL, nextParameters),
            ] {
                #expect(plan.contains { $0.type.hasPrefix("Index") && $0.relation == "devices" && $0.index == "devices_tenant_created" },
                        "\(plan)")
                #expect(!plan.contains { $0.type == "Seq Scan" || $0.type == "Sort" }, "\(plan)")
            }
            let idParameters: [any PostgresEncodable] = [PostgresArray(first.devices.map(\.id))]
            let disconnects = try await explain(pool, PostgresDeviceStore.lastDisconnectsSQL, idParameters)
            #expect(disconnects.contains { $0.type.hasPrefix("Index") && $0.relation == "disconnects" }, "\(disconnects)")
            #expect(!disconnects.contains { $0.type == "Seq Scan" && $0.relation == "disconnects" }, "\(disconnects)")
            let noCursor: Date? = nil
            let historyParameters: [any PostgresEncodable] = [first.devices[0].id, noCursor, Int32(1), Int64(0), Int64(51)]
            let history = try await explain(pool, PostgresDeviceStore.historySQL, historyParameters)
            #expect(!history.contains { $0.type == "Seq Scan" }, "\(history)")
            #expect(try await store.lastDisconnects(deviceIDs: first.devices.map(\.id)).count == 500)
            await pool.close()
        }
    }

    struct PlanNode: CustomStringConvertible {
        var type: String
        var relation: String?
        var index: String?
        var description: String { "\(type)\(relation.map { " on \($0)" } ?? "")\(index.map { " using \($0)" } ?? "")" }
    }

    /// Every node of the statement's plan, as EXPLAIN (FORMAT JSON) gives it.
    private func explain(_ pool: PostgresPool, _ sql: String, _ parameters: [any PostgresEncodable]) async throws -> [PlanNode] {
        let text: String = try await pool.query("EXPLAIN (FORMAT JSON) " + sql, parameters)[0].decode(0)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        var nodes: [PlanNode] = []
        func walk(_ node: [String: Any]) {
            nodes.append(PlanNode(type: node["Node Type"] as? String ?? "?", relation: node["Relation Name"] as? String,
                                  index: node["Index Name"] as? String))
            for child in node["Plans"] as? [[String: Any]] ?? [] { walk(child) }
        }
        if let plan = root.first?["Plan"] as? [String: Any] { walk(plan) }
        return nodes
    }
}
