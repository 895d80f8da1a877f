import DevicePool
import Foundation
import HTTPTypes
import Hummingbird
import PostgresStore
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

extension GatewayAPI {
    /// The pairing's events as SSE: `state` first, then `qr`/`code` updates, then `paired`,
    /// `timeout` or `failed`, and the stream closes. A comment every `heartbeat` keeps it alive.
    /// A pairing whose instance died is closed at its deadline with what the database says.
    func eventStream(for pairing: PairingRecord) -> Response {
        let updates: AsyncStream<PairingUpdate>
        if pairing.endedAt != nil {
            updates = AsyncStream { $0.finish() }
        } else if let feed = supervisor.pairingFeed(pairing.id) {
            updates = feed.watch()
        } else {
            let watched = relay.watch(pairing.id, deadline: pairing.deadline)
            if !watched.hasState { relay.requestReplay(pairing.id) }
            updates = watched.updates
        }
        let body = ResponseBody { writer in
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
        let heartbeat = configuration.heartbeat
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
                    try await writer.write(ServerSentEvent.json("qr", CodeEvent(qr: code, expiresAt: expiresAt, svg: try? svg(code))).bytes)
                case .update(.code(let code, let expiresAt)):
                    try await writer.write(ServerSentEvent.json("code", CodeEvent(code: code, expiresAt: expiresAt)).bytes)
                case .update(.paired(let deviceID, let jid)):
                    sentPaired = true
                    let event = OutcomeEvent(outcome: .paired, deviceID: deviceID.api, number: MaskedNumber.from(jid: jid))
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

/// A phone number shown without its middle digits: `+1555•••4567`.
enum MaskedNumber {
    static func from(jid: String?) -> String? {
        guard let jid else { return nil }
        let digits = String(jid.prefix { $0 != ":" && $0 != "@" && $0 != "." })
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber) else { return nil }
        if digits.count <= 8 {
            return "+" + digits.prefix(2) + "•••" + digits.suffix(2)
        }
        return "+" + digits.prefix(4) + "•••" + digits.suffix(4)
    }
}
