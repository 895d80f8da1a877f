import DevicePool
import Foundation
import Hummingbird
import PostgresStore
import Prometheus

/// The operational routes: liveness and readiness for orchestrators and load balancers, the
/// OpenAPI document, and /metrics when a registry is given. Not tied to the API's context, so a
/// test can serve them alone.
struct OperationsController: Sendable {
    let readiness: Readiness
    let devices: PostgresDeviceStore
    let metrics: PrometheusCollectorRegistry?

    func addRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        router.get("/healthz") { _, _ in jsonResponse(.ok, #"{"status":"ok"}"#) }
        router.get("/readyz") { _, _ in await readinessResponse() }
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml))
            )
        }
        if let metrics {
            router.get("/metrics") { _, _ in
                let counts = try await devices.countsByState()
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: MetricsExposition.render(metrics, devicesByState: counts)))
                )
            }
        }
    }

    private func readinessResponse() async -> Response {
        switch await readiness.check() {
        case .ready:
            return jsonResponse(.ok, #"{"status":"ready"}"#)
        case .notReady(let code, let detail):
            return Problem(status: .serviceUnavailable, code: code, title: "Not ready", detail: detail).response()
        }
    }
}
