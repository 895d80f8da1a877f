import Hummingbird
import Synchronization

/// The methods each route path allows, read from the router's own list once every route is in:
/// a known path asked with another method is answered 405 with Allow rather than 404, and a
/// request the router never saw is still counted under its route template.
final class AllowedMethods: Sendable {
    private struct Entry {
        var template: String
        var segments: [Substring]
        var methods: Set<HTTPRequest.Method>
    }
    private let entries = Mutex<[Entry]>([])

    /// Takes the router's routes (path templates like `/tenants/{tenant}`).
    func load(_ routes: [Router<APIContext>.RouteDescription]) {
        var loaded: [Entry] = []
        for route in routes {
            let segments = route.path.description.split(separator: "/")
            if let index = loaded.firstIndex(where: { $0.segments == segments }) {
                loaded[index].methods.insert(route.method)
            } else {
                loaded.append(Entry(template: route.path.description, segments: segments, methods: [route.method]))
            }
        }
        entries.withLock { $0 = loaded }
    }

    /// The methods a concrete path allows, or nil when no route has this shape.
    func allowed(for path: String) -> [HTTPRequest.Method]? {
        entry(for: path)?.methods.sorted { $0.rawValue < $1.rawValue }
    }

    /// The template of the route a concrete path has the shape of (`/devices/{id}/history`).
    func template(for path: String) -> String? {
        entry(for: path)?.template
    }

    private func entry(for path: String) -> Entry? {
        let requested = path.split(separator: "/")
        return entries.withLock { entries in
            entries.first { entry in
                entry.segments.count == requested.count && zip(entry.segments, requested).allSatisfy { template, actual in
                    template.hasPrefix("{") || template == actual
                }
            }
        }
    }
}
