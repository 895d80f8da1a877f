import Foundation
import HTTPTypes
import Hummingbird
import PostgresStore
import WAWire
import ServiceLifecycle

private struct PageLinkBody: Decodable {
    var validForSeconds: Int?

    enum CodingKeys: String, CodingKey {
        case validForSeconds = "valid_for_seconds"
    }

    init(from decoder: any Decoder) throws {
        validForSeconds = try decoder.container(keyedBy: CodingKeys.self).optional(Int.self, forKey: .validForSeconds)
    }
}

private struct PageLinkView: Encodable {
    var pageURL: String
    var expiresAt: Date
}

private struct SnapshotEvent: Encodable {
    var html: String
}

/// The admin page, one look at the whole fleet: instances (from their leases), each tenant's
/// devices by state, the last hour's disconnects by category and the pairings in progress,
/// live over Server-Sent Events.
///
/// A browser cannot send the admin token with an `EventSource`, and the token should not live
/// in a browser anyway: an operator asks for a signed, expiring link with the token
/// (`POST /admin/page/links`, default one hour, at most a day) and opens it. The link opens
/// this page and its stream — nothing else, reading only — on any instance (they share
/// `http.link_key`), and the stream ends when the link expires.
///
/// The stream reads the fleet from the database every `refresh` and sends the rendered
/// sections when they changed: every instance's devices show, whoever renders the page, and
/// the fleet bus carries nothing for it.
struct FleetPageController: Sendable {
    let devices: PostgresDeviceStore
    let links: FleetPageLinkSigner
    let gate: TenantGate
    let instanceID: String
    let leaseTTL: Duration
    let refresh: Duration
    let heartbeat: Duration
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date

    static let disconnectWindow = Duration.seconds(3600)
    static let defaultLinkLifetime = 3600
    static let longestLinkLifetime = 86_400

    /// `POST /page/links`, behind the admin token.
    func addLinkRoute(to admin: some RouterMethods<APIContext>) {
        admin.post("/page/links", use: issueLink)
    }

    /// The page and its stream, which admit their callers by the link.
    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.get("/admin/page", use: page)
        router.get("/admin/page/events", use: events)
    }

    @Sendable func issueLink(_ request: Request, context: APIContext) async throws -> Response {
        let body = try await request.decodeJSON(PageLinkBody.self)
        let lifetime = body.validForSeconds ?? Self.defaultLinkLifetime
        guard (60...Self.longestLinkLifetime).contains(lifetime) else {
            throw APIError.invalid("valid_for_seconds must be 60 to \(Self.longestLinkLifetime)")
        }
        let link = links.sign(expiresAt: now().addingTimeInterval(Double(lifetime)))
        var origin = ""
        if let host = gate.host(of: request, peer: context.peer) {
            origin = gate.origin(of: request, peer: context.peer, host: host)
        }
        return try APIJSON.response(.created, PageLinkView(
            pageURL: "\(origin)/admin/page?\(link.query)", expiresAt: Date(timeIntervalSince1970: Double(link.expires))
        ))
    }

    @Sendable func page(_ request: Request, context: APIContext) async throws -> Response {
        switch check(request) {
        case .invalid where request.uri.queryParameters["sig"] == nil:
            return FleetPage.message(.unauthorized, "A page link is needed",
                                     "Ask for one with the admin token: POST /admin/page/links, then open the page_url it returns.")
        case .invalid:
            return FleetPage.message(.forbidden, "This link is not valid", "The link was changed or signed with another key. Ask for a new one.")
        case .expired:
            return FleetPage.message(.gone, "This link has expired", "Page links last a limited time. Ask for a new one.")
        case .valid:
            let query = request.uri.queryParameters
            let link = "expires=\(query["expires"] ?? "")&sig=\(query["sig"] ?? "")"
            return FleetPage.document(try await model(), eventsURL: "/admin/page/events?\(link)")
        }
    }

    @Sendable func events(_ request: Request, context: APIContext) async throws -> Response {
        let expiresAt: Date
        switch check(request) {
        case .invalid where request.uri.queryParameters["sig"] == nil:
            throw APIError(.unauthorized, .unauthorized, "A page link is needed",
                           detail: "ask for one with POST /admin/page/links", headers: [.wwwAuthenticate: #"Bearer realm="pairgate-admin""#])
        case .invalid:
            throw APIError(.unauthorized, .linkInvalid, "This page link is not valid", headers: [.wwwAuthenticate: #"Bearer realm="pairgate-admin""#])
        case .expired:
            throw APIError(.unauthorized, .linkExpired, "This page link has expired", headers: [.wwwAuthenticate: #"Bearer realm="pairgate-admin""#])
        case .valid(let until):
            expiresAt = until
        }
        let body = ResponseBody { writer in
            try await stream(until: expiresAt, writer: &writer)
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: body
        )
    }

    // MARK: The stream

    private enum Tick: Sendable {
        case refresh
        case heartbeat
        case expired
        case shutdown
    }

    /// `snapshot` first and whenever the rendered sections change, a comment every `heartbeat`,
    /// `unavailable` while the database does not answer, `expired` when the link runs out.
    private func stream(until expiresAt: Date, writer: inout any ResponseBodyWriter) async throws {
        var last: String?
        var unavailable = false
        func send(_ writer: inout any ResponseBodyWriter) async throws {
            let sections: String
            do {
                sections = FleetPage.sections(try await model())
            } catch {
                // Said once per outage; the next answer sends the sections again.
                if !unavailable {
                    unavailable = true
                    last = nil
                    try await writer.write(ServerSentEvent(name: "unavailable", data: "{}").bytes)
                }
                return
            }
            unavailable = false
            guard sections != last else { return }
            last = sections
            try await writer.write(ServerSentEvent.json("snapshot", SnapshotEvent(html: sections)).bytes)
        }
        try await send(&writer)
        let (ticks, sink) = AsyncStream.makeStream(of: Tick.self)
        let clock = self.clock
        let refresh = self.refresh
        let heartbeat = self.heartbeat
        let untilExpiry = Duration.seconds(max(0, expiresAt.timeIntervalSince(now())))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    try await clock.sleep(for: refresh)
                    sink.yield(.refresh)
                }
            }
            group.addTask {
                while true {
                    try await clock.sleep(for: heartbeat)
                    sink.yield(.heartbeat)
                }
            }
            group.addTask {
                try await clock.sleep(for: untilExpiry)
                sink.yield(.expired)
            }
            group.addTask {
                // The server's graceful shutdown must not wait for an admin to close the page.
                try await gracefulShutdown()
                sink.yield(.shutdown)
            }
            defer { group.cancelAll() }
            loop: for await tick in ticks {
                switch tick {
                case .refresh:
                    try await send(&writer)
                case .heartbeat:
                    try await writer.write(ServerSentEvent.heartbeat)
                case .expired:
                    try await writer.write(ServerSentEvent(name: "expired", data: "{}").bytes)
                    break loop
                case .shutdown:
                    break loop
                }
            }
        }
    }

    // MARK: Helpers

    private func check(_ request: Request) -> FleetPageLinkSigner.Check {
        let query = request.uri.queryParameters
        return links.check(expires: query["expires"].map(String.init), signature: query["sig"].map(String.init), now: now())
    }

    private func model() async throws -> FleetPage.Model {
        FleetPage.Model(
            overview: try await devices.fleetOverview(disconnectsWithin: Self.disconnectWindow),
            servedBy: instanceID, leaseTTL: leaseTTL, disconnectWindow: Self.disconnectWindow
        )
    }
}
