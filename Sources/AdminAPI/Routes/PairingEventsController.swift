import DevicePool
import Foundation
import HTTPTypes
import Hummingbird
import PostgresStore
import WAClient
import ServiceLifecycle

/// One Server-Sent Event.
struct ServerSentEvent: Sendable {
    var name: String
    var data: String

    var bytes: ByteBuffer {
        ByteBuffer(string: "event: \(name)\ndata: \(data)\n\n")
    }

    static let heartbeat = ByteBuffer(string: ": keepalive\n\n")

    static func json(_ name: String, _ value: some Encodable) -> ServerSentEvent {
        let data = (try? APIJSON.encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return ServerSentEvent(name: name, data: data)
    }
}

/// What the `state` event says first: the pairing, and whether it is still running.
private struct StreamState: Encodable {
    var pairingID: String
    var deviceID: String
    var method: PairingMethodKind
    var status: String
    var expiresAt: Date
    var outcome: PairingOutcome?
}

private struct CodeEvent: Encodable {
    var qr: String?
    var code: String?
    var expiresAt: Date
    /// The QR drawn by our encoder, ready to show.
    var svg: String?
}

private struct OutcomeEvent: Encodable {
    var outcome: PairingOutcome
    var detail: String?
    var deviceID: String?
    var number: String?
}

/// GET /pair/events and GET /pair/qr.svg: a pairing as it goes, for a tenant token or the
/// pairing's signed link, on any instance.
struct PairingEventsController: Sendable {
    let devices: PostgresDeviceStore
    let pairings: PairingWatchers
    let fleet: FleetBus
    let streams: StreamLimits
    /// How often an event stream sends a comment so proxies and clients see it alive.
    let heartbeat: Duration
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.get("/pair/events", use: events)
        router.get("/pair/qr.svg", use: qrImage)
    }

    @Sendable func events(_ request: Request, context: APIContext) async throws -> Response {
        let pairing = try await watchedPairing(request, context)
        return eventStream(for: pairing, ticket: try streams.admit(pairingID: pairing.id, tenantID: pairing.tenantID))
    }

    @Sendable func qrImage(_ request: Request, context: APIContext) async throws -> Response {
        let pairing = try await watchedPairing(request, context)
        guard pairing.endedAt == nil, case .qr(let code, _)? = pairings.showing(pairing.id) else {
            throw APIError(.notFound, .noQR, "This pairing shows no QR code right now")
        }
        return Response(
            status: .ok, headers: [.contentType: "image/svg+xml", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: try PairingView.svg(code)))
        )
    }

    /// The pairing an event stream or QR image is about: the link's, the `pairing` parameter's,
    /// or the tenant's open one — always the caller's tenant's.
    private func watchedPairing(_ request: Request, _ context: APIContext) async throws -> PairingRecord {
        let access = try context.requireTenant()
        let pairingID: UUID
        switch access.credential {
        case .link(let linked):
            pairingID = linked
        case .token:
            if let id = try PairingQuery(request).pairingID {
                pairingID = id
            } else {
                guard let open = try await devices.openPairing(tenantID: access.tenantID) else {
                    throw APIError(.notFound, .noActivePairing, "This tenant has no pairing running")
                }
                pairingID = open.id
            }
        }
        guard let record = try await devices.pairing(pairingID), record.tenantID == access.tenantID else {
            throw APIError(.notFound, .pairingNotFound, "No such pairing")
        }
        return record
    }

    /// The pairing's events as SSE: `state` first, then `qr`/`code` updates, then `paired`,
    /// `timeout` or `failed`, and the stream closes. A comment every `heartbeat` keeps it alive.
    /// A pairing whose instance died is closed at its deadline with what the database says. The
    /// stream holds `ticket` (its place under the stream caps) until it ends.
    private func eventStream(for pairing: PairingRecord, ticket: StreamTicket) -> Response {
        let updates: AsyncStream<PairingUpdate>
        if pairing.endedAt != nil {
            updates = AsyncStream { $0.finish() }
        } else {
            let watch = pairings.watch(pairing.id, deadline: pairing.deadline)
            if watch.needsReplay { fleet.requestReplay(pairing.id) }
            updates = watch.updates
        }
        let body = ResponseBody { writer in
            defer { ticket.release() }
            try await streamEvents(pairing, updates: updates, writer: &writer)
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: body
        )
    }

    private enum Tick: Sendable {
        case update(PairingUpdate)
        case heartbeat
        case deadline
        case finished
        case shutdown
    }

    private func streamEvents(_ pairing: PairingRecord, updates: AsyncStream<PairingUpdate>, writer: inout any ResponseBodyWriter) async throws {
        var state = StreamState(
            pairingID: pairing.id.api, deviceID: pairing.deviceID.api, method: pairing.method,
            status: pairing.endedAt == nil ? "running" : "ended", expiresAt: pairing.deadline, outcome: pairing.outcome
        )
        try await writer.write(ServerSentEvent.json("state", state).bytes)
        if let outcome = pairing.outcome {
            try await writer.write(terminal(outcome, detail: pairing.detail, pairing: pairing).bytes)
            return
        }
        let (ticks, sink) = AsyncStream.makeStream(of: Tick.self)
        let clock = self.clock
        let heartbeat = self.heartbeat
        // A dead owner never ends its pairing here: give up a little after the deadline.
        let untilDeadline = Duration.seconds(max(0, pairing.deadline.timeIntervalSince(now())) + 5)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await update in updates { sink.yield(.update(update)) }
                sink.yield(.finished)
            }
            group.addTask {
                while true {
                    try await clock.sleep(for: heartbeat)
                    sink.yield(.heartbeat)
                }
            }
            group.addTask {
                try await clock.sleep(for: untilDeadline)
                sink.yield(.deadline)
            }
            group.addTask {
                // The server's graceful shutdown must not wait for a pairing to end.
                try await gracefulShutdown()
                sink.yield(.shutdown)
            }
            defer { group.cancelAll() }
            var sentPaired = false
            loop: for await tick in ticks {
                switch tick {
                case .heartbeat:
                    try await writer.write(ServerSentEvent.heartbeat)
                case .update(.qr(let code, let expiresAt)):
                    try await writer.write(ServerSentEvent.json("qr", CodeEvent(qr: code, expiresAt: expiresAt, svg: try? PairingView.svg(code))).bytes)
                case .update(.code(let code, let expiresAt)):
                    try await writer.write(ServerSentEvent.json("code", CodeEvent(code: code, expiresAt: expiresAt)).bytes)
                case .update(.paired(let jid)):
                    sentPaired = true
                    let event = OutcomeEvent(outcome: .paired, deviceID: pairing.deviceID.api, number: MaskedNumber.from(jid: jid))
                    try await writer.write(ServerSentEvent.json("paired", event).bytes)
                case .update(.ended(let outcome, let detail)):
                    if outcome != .paired || !sentPaired {
                        try await writer.write(terminal(outcome, detail: detail, pairing: pairing).bytes)
                    }
                    break loop
                case .finished, .deadline:
                    let record = try? await devices.pairing(pairing.id)
                    state.outcome = record?.outcome ?? .interrupted
                    try await writer.write(terminal(state.outcome ?? .interrupted, detail: record?.detail, pairing: pairing).bytes)
                    break loop
                case .shutdown:
                    break loop
                }
            }
        }
    }

    private func terminal(_ outcome: PairingOutcome, detail: String?, pairing: PairingRecord) -> ServerSentEvent {
        switch outcome {
        case .paired: .json("paired", OutcomeEvent(outcome: .paired, deviceID: pairing.deviceID.api))
        case .timeout: .json("timeout", OutcomeEvent(outcome: .timeout, detail: detail))
        case .cancelled, .failed, .interrupted: .json("failed", OutcomeEvent(outcome: outcome, detail: detail))
        }
    }
}
