import Hummingbird
import Synchronization

/// The routes the API declares, path templates with their methods: an undeclared method on a
/// known path is answered 405 with Allow rather than 404, and the OpenAPI parity test reads it.
final class RouteTable: Sendable {
    private struct Entry {
        var segments: [Substring]
        var methods: Set<HTTPRequest.Method>
    }
    private let entries = Mutex<[Entry]>([])

    func declare(_ path: String, _ method: HTTPRequest.Method) {
        let segments = Self.segments(path)
        entries.withLock { entries in
            if let index = entries.firstIndex(where: { $0.segments == segments }) {
                entries[index].methods.insert(method)
            } else {
                entries.append(Entry(segments: segments, methods: [method]))
            }
        }
    }

    /// The methods a concrete path allows, or nil when no declared route has this shape.
    func allowedMethods(for path: String) -> [HTTPRequest.Method]? {
        let requested = Self.segments(path)
        return entries.withLock { entries in
            for entry in entries where entry.segments.count == requested.count {
                let matches = zip(entry.segments, requested).allSatisfy { template, actual in
                    template.hasPrefix("{") || template == actual
                }
                if matches { return entry.methods.sorted { $0.rawValue < $1.rawValue } }
            }
            return nil
        }
    }

    /// Every declared route as `METHOD /path/{param}`.
    var declared: [String] {
        entries.withLock { entries in
            entries.flatMap { entry in
                entry.methods.map { "\($0.rawValue) /" + entry.segments.joined(separator: "/") }
            }.sorted()
        }
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}

/// Registers handlers on a router (or group) and in the route table, each bounded by the
/// request timeout: a handler still running at the limit is cancelled and the caller gets 503
/// `request_timeout` (a stream's body runs after the handler and is bounded by its pairing).
struct Routes<Router: RouterMethods<APIContext>> {
    let router: Router
    let table: RouteTable
    let prefix: String
    let timeout: Duration

    func on(_ method: HTTPRequest.Method, _ path: String,
            _ handler: @escaping @Sendable (Request, APIContext) async throws -> Response) {
        table.declare(prefix + path, method)
        let limit = timeout
        router.on(RouterPath(stringLiteral: path), method: method) { request, context -> Response in
            try await withThrowingTaskGroup(of: Response?.self) { group in
                group.addTask { try await handler(request, context) }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    throw APIError(.serviceUnavailable, "request_timeout", "The request took too long",
                                   detail: "the gateway gives up after \(limit)", headers: [.retryAfter: "1"])
                }
                return response
            }
        }
    }

    func get(_ path: String, _ handler: @escaping @Sendable (Request, APIContext) async throws -> Response) { on(.get, path, handler) }
    func post(_ path: String, _ handler: @escaping @Sendable (Request, APIContext) async throws -> Response) { on(.post, path, handler) }
    func delete(_ path: String, _ handler: @escaping @Sendable (Request, APIContext) async throws -> Response) { on(.delete, path, handler) }
}
