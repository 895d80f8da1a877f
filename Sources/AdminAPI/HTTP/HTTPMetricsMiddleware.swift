import CoreMetrics
import Foundation
import Hummingbird
import WAWire

/// Counts requests by route template, method and status, and times them (until the response head;
/// a stream's body is not included). Unmatched paths are one route, `unmatched`, so random
/// URLs cannot grow the label set.
struct HTTPMetricsMiddleware: RouterMiddleware {
    typealias Context = APIContext

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
        let method = Self.knownMethods.contains(request.method) ? request.method.rawValue : "OTHER"
        Counter(label: "pairgate_http_requests_total", dimensions: [
            ("route", route), ("method", method), ("status", String(response.status.code)),
        ]).increment()
        Timer(label: "pairgate_http_request_duration_seconds", dimensions: [("route", route), ("method", method)])
            .recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        return response
    }

    private static let knownMethods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .patch, .delete, .options]
}
