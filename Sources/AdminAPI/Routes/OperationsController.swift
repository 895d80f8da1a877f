import DevicePool
import Foundation
import Hummingbird
import PostgresStore
import Prometheus

/// The operational routes: liveness and readiness for orchestrators and load balancers, the
/// OpenAPI document, and /metrics when a registry is given. Not tied to the API's context, so a
/// test can serve them alone. Anyone may call them, so none costs a query per call: readiness
/// is one check per second at most, shared by its callers and bounded in time, and the device
/// gauges are read at most once per `deviceGaugeInterval`.
struct OperationsController: Sendable {
    let readiness: SharedRead<Readiness.Outcome>
    let deviceCounts: SharedRead<[DeviceState.Kind: Int]?>
    let metrics: PrometheusCollectorRegistry?
    let clientVersion: @Sendable () -> String

    /// How long one readiness check is reused, and how long callers wait for a running one.
    static let readinessInterval = Duration.seconds(1)
    static let readinessWait = Duration.seconds(2)
    /// How long the fleet-wide device counts of /metrics are reused (a scrape interval is 15 s or more).
    static let deviceGaugeInterval = Duration.seconds(10)

    init(
        readiness: Readiness, devices: PostgresDeviceStore, metrics: PrometheusCollectorRegistry?,
        clientVersion: @escaping @Sendable () -> String, now: @escaping @Sendable () -> Date
    ) {
        self.readiness = SharedRead(ttl: Self.readinessInterval, wait: Self.readinessWait, now: now) { await readiness.check() }
        deviceCounts = SharedRead(ttl: Self.deviceGaugeInterval, wait: Self.readinessWait, now: now) { try? await devices.countsByState() }
        self.metrics = metrics
        self.clientVersion = clientVersion
    }

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
                // A database that does not answer leaves the last counts in place.
                let counts = await deviceCounts.value() ?? deviceCounts.last ?? nil
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: MetricsExposition.render(
                        metrics, devicesByState: counts, clientVersion: clientVersion()
                    )))
                )
            }
        }
    }

    private func readinessResponse() async -> Response {
        let outcome = await readiness.value() ?? .notReady(
            code: "database_unavailable", detail: "the database did not answer within \(Self.readinessWait)"
        )
        switch outcome {
        case .ready:
            return jsonResponse(.ok, #"{"status":"ready"}"#)
        case .notReady(let code, let detail):
            return Problem(status: .serviceUnavailable, code: code, title: "Not ready", detail: detail).response()
        }
    }
}
