@testable import AdminAPI
import DevicePool
import Foundation
import Hummingbird
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

@Suite("The HTTP contract: problems, methods, the OpenAPI document")
struct ContractTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(.requiresDatabase) func undeclaredMethodsAre405WithAllowAndUnknownPaths404() async throws {
        try await APIHarness.run { h in
            let delete = try await h.request(.DELETE, "/status", host: h.acme.host, token: h.acme.token)
            #expect(delete.status == 405)
            #expect(delete.header("Allow") == "GET")
            #expect(delete.json["code"] as? String == "method_not_allowed")
            let put = try await h.request(.PUT, "/admin/tenants/\(UUID().uuidString)/tokens", host: h.acme.host)
            #expect(put.status == 405)
            #expect(put.header("Allow") == "GET, POST")
            let unknown = try await h.request(.GET, "/nothing/here", host: h.acme.host, token: h.acme.token)
            #expect(unknown.status == 404)
            #expect(unknown.header("Content-Type") == "application/problem+json")
            #expect(unknown.json["code"] as? String == "not_found")
            let spec = try await h.request(.GET, "/openapi.yaml", host: nil)
            #expect(spec.status == 200)
            #expect(spec.body + "\n" == (try String(contentsOf: Self.repository.appending(path: "docs/openapi.yaml"), encoding: .utf8)))
        }
    }

    @Test func theEmbeddedDocumentIsDocsOpenAPIYaml() throws {
        let file = try String(contentsOf: Self.repository.appending(path: "docs/openapi.yaml"), encoding: .utf8)
        #expect(OpenAPIDocument.yaml + "\n" == file, "run ops/gen-openapi.sh")
    }

    /// Every route the router has is in docs/openapi.yaml, and every documented operation exists.
    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let file = try String(contentsOf: Self.repository.appending(path: "docs/openapi.yaml"), encoding: .utf8)
        let documented = Set(Self.operations(inYAML: file))
        // Building the router touches neither the database nor the network.
        let registry = TestMetrics.registry  // bootstrapped before the supervisor makes its metrics
        let pool = PostgresPool(configuration: .init(url: "postgresql://127.0.0.1:1/none"), threadPool: TestDatabase.threadPool, logger: TestDatabase.logger)
        let events = EventBus()
        let supervisor = Supervisor(
            configuration: PoolConfiguration(instanceID: "routes", webVersion: "2.3000.1"), store: PostgresDeviceStore(pool: pool),
            connector: ScriptedUpstream(), sealer: APIHarness.sealer, events: events, logger: TestDatabase.logger
        )
        let directory = TenantDirectory(store: TenantStore(pool: pool), ttl: .zero)
        let fleet = try FleetBus(pool: pool, supervisor: supervisor, events: events, directory: directory, logger: TestDatabase.logger)
        let router = buildRouter(
            APIConfiguration(linkKey: APIHarness.linkKey), database: pool, supervisor: supervisor, sealer: APIHarness.sealer, events: events,
            fleet: fleet, directory: directory,
            clientVersions: ClientVersionKeeper(
                configuration: .init(), settings: SettingsStore(pool: pool), supervisor: supervisor, fleet: fleet,
                clock: ContinuousClock(), now: { Date() }, logger: TestDatabase.logger
            ),
            readiness: Readiness(migrator: try PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger), logger: TestDatabase.logger),
            webhooks: WebhookConfiguration(),
            metrics: registry, clock: ContinuousClock(), now: { Date() }, logger: TestDatabase.logger
        )
        let declared = Set(router.routes.map { "\($0)" })
        #expect(declared.subtracting(documented).sorted() == [], "routes missing from docs/openapi.yaml")
        #expect(documented.subtracting(declared).sorted() == [], "documented routes that do not exist")
        #expect(declared.count > 20)
    }

    /// `METHOD /path` for every operation under `paths:` (two-space path keys, four-space methods).
    static func operations(inYAML text: String) -> [String] {
        var operations: [String] = []
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") && !line.isEmpty { inPaths = line.hasPrefix("paths:") }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"), let path {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "patch", "delete", "head", "options"].contains(key) {
                    operations.append("\(key.uppercased()) \(path)")
                }
            }
        }
        return operations
    }
}
