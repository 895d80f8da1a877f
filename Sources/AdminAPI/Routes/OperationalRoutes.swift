import Foundation
import Hummingbird
import PostgresStore

extension GatewayAPI {
    func addOperationalRoutes<R>(_ routes: Routes<R>) {
        let health = HealthRoutes(readiness: readiness)
        routes.get("/healthz") { _, _ in health.liveness() }
        routes.get("/readyz") { _, _ in await health.readinessResponse() }
        routes.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml))
            )
        }
        if let metrics {
            routes.get("/metrics") { _, _ in
                let counts = try await devices.countsByState()
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: MetricsExposition.render(metrics, devicesByState: counts)))
                )
            }
        }
    }
}
