import CoreMetrics
import Foundation
import Hummingbird
import NIOCore
import PostgresClient
import Synchronization
import WAWire

/// The gateway's outermost responder, around the router. It reads a request's body first (at most
/// `APIContext.bodyLimit` bytes, 413 beyond, however it is framed), so that no handler still reads
/// from the connection after its answer went out. Then it runs the router under the request's
/// deadline and answers at the deadline — 503 `request_timeout` — whether or not the handler
/// returned: a handler may be waiting on something that ignores cancellation (a libpq call, a
/// device busy upstream). The deadline is also the handler's `PostgresDeadline`, so its database
/// waits end with it. Every answer is counted here, by route template, method and status (the
/// time until the response head: a stream's body is not included).
public struct GatewayResponder: HTTPResponder {
    public typealias Context = APIContext
    private let router: RouterResponder<APIContext>
    private let routes: AllowedMethods
    /// How long a request may take, body included (`http.request_timeout_seconds`).
    private let limit: Duration

    init(router: Router<APIContext>, limit: Duration) {
        self.router = router.buildResponder()
        routes = AllowedMethods()
        routes.load(router.routes)
        self.limit = limit
    }

    public func respond(to request: Request, context: APIContext) async throws -> Response {
        let start = ContinuousClock.now
        let response = await answer(request, context: context, deadline: start + limit)
        record(response, request: request, context: context, since: start)
        return response
    }

    private func answer(_ request: Request, context: APIContext, deadline: ContinuousClock.Instant) async -> Response {
        var withBody = request
        if let refusal = await readBody(of: &withBody, deadline: deadline) {
            return refusal
        }
        let request = withBody
        let router = self.router
        let timeout = APIError.requestTimeout(limit)
        let race = FirstAnswer()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                race.wait(continuation)
                let handler = PostgresDeadline.$current.withValue(deadline) {
                    Task {
                        do {
                            race.answer(try await router.respond(to: request, context: context))
                        } catch {
                            // The router's problem middleware answers every error; this is its last resort.
                            race.answer(Problem(status: .internalServerError, code: "internal", title: "Internal error").response())
                        }
                    }
                }
                race.track(handler)
                race.track(Task {
                    guard (try? await Task.sleep(until: deadline)) != nil else { return }
                    race.answer(timeout.problem.response(headers: timeout.headers))
                })
            }
        } onCancel: {
            // The server is going away with this request in hand.
            race.answer(APIError.shuttingDown.problem.response(headers: APIError.shuttingDown.headers))
        }
    }

    /// Reads the whole body into the request before any handler runs; returns the answer instead
    /// when it is too large or does not arrive by the deadline.
    private func readBody(of request: inout Request, deadline: ContinuousClock.Instant) async -> Response? {
        let length = request.headers[.contentLength].flatMap { Int($0) }
        guard length.map({ $0 > 0 }) ?? (request.headers[.transferEncoding] != nil) else {
            return nil
        }
        let maximum = Self.bodyLimit(for: request)
        if let length, length > maximum {
            return Problem.bodyTooLarge.response()
        }
        let body = request.body
        do {
            let collected = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask { try await body.collect(upTo: maximum) }
                group.addTask {
                    try? await Task.sleep(until: deadline)
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
            guard let collected else {
                let timeout = APIError.requestTimeout(limit)
                return timeout.problem.response(headers: timeout.headers)
            }
            request.body = RequestBody(buffer: collected)
            return nil
        } catch is NIOTooManyBytesError {
            return Problem.bodyTooLarge.response()
        } catch {
            // The connection ended mid-body: nobody reads the answer.
            return Problem(status: .badRequest, code: "bad_request", title: "Bad request", detail: "the body ended early").response()
        }
    }

    /// The most body bytes a request may carry: `POST /messages` takes a text of up to 65,536
    /// characters (`MessagesController.sendBodyLimit`), every other route `APIContext.bodyLimit`.
    static func bodyLimit(for request: Request) -> Int {
        request.method == .post && request.uri.path == "/messages" ? MessagesController.sendBodyLimit : APIContext.bodyLimit
    }

    private func record(_ response: Response, request: Request, context: APIContext, since start: ContinuousClock.Instant) {
        // Unmatched paths are one route, so that random URLs cannot grow the label set.
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? routes.template(for: request.uri.path) ?? "unmatched"
        let method = Self.knownMethods.contains(request.method) ? request.method.rawValue : "OTHER"
        Counter(label: "pairgate_http_requests_total", dimensions: [
            ("route", route), ("method", method), ("status", String(response.status.code)),
        ]).increment()
        Timer(label: "pairgate_http_request_duration_seconds", dimensions: [("route", route), ("method", method)])
            .recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }

    private static let knownMethods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .patch, .delete, .options]
}

/// The first of several answers to one request (the handler's, the deadline's, the server's
/// going away) resumes the waiting responder; the tasks still running are cancelled then.
private final class FirstAnswer: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Response, Never>?
        var answer: Response?
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    func wait(_ continuation: CheckedContinuation<Response, Never>) {
        let ready = state.withLock { state -> Response? in
            if state.answer == nil { state.continuation = continuation }
            return state.answer
        }
        if let ready { continuation.resume(returning: ready) }
    }

    func track(_ task: Task<Void, Never>) {
        let answered = state.withLock { state in
            if state.answer == nil { state.tasks.append(task) }
            return state.answer != nil
        }
        if answered { task.cancel() }
    }

    func answer(_ response: Response) {
        let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<Response, Never>?, [Task<Void, Never>]) in
            guard state.answer == nil else { return (nil, []) }
            state.answer = response
            defer {
                state.continuation = nil
                state.tasks = []
            }
            return (state.continuation, state.tasks)
        }
        tasks.forEach { $0.cancel() }
        continuation?.resume(returning: response)
    }
}
