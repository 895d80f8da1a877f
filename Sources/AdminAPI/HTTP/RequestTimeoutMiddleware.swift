import Hummingbird

/// Bounds how long a request is handled: a handler still running at `limit` is cancelled and
/// the caller gets 503 `request_timeout`. An event stream's body is written after its handler
/// returned, so it is bounded by its pairing instead.
struct RequestTimeoutMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let limit: Duration

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let limit = self.limit
        // The handler runs as a child task so that the deadline can cancel it. The task group
        // ends before `next` goes out of scope, so it does not really escape; and Hummingbird's
        // `next` is a @Sendable responder that the protocol only does not declare as such
        // (Hummingbird hands it to a child task the same way in consumeWithCancellationOnInboundClose).
        return try await withoutActuallyEscaping(next) { next in
            nonisolated(unsafe) let next = next
            return try await withThrowingTaskGroup(of: Response?.self) { group in
                group.addTask { try await next(request, context) }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    throw APIError(.serviceUnavailable, .requestTimeout, "The request took too long",
                                   detail: "the gateway gives up after \(limit)", headers: [.retryAfter: "1"])
                }
                return response
            }
        }
    }
}
