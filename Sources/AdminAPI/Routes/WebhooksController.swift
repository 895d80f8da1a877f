import DevicePool
import Foundation
import Hummingbird
import PostgresStore
import WAWire
import Webhooks

/// The body of POST /webhooks.
private struct CreateWebhookBody: Decodable {
    var url: String
    var events: [String]
    var description: String?

    enum CodingKeys: String, CodingKey {
        case url, events, description
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decode(String.self, forKey: .url)
        events = try container.decode([String].self, forKey: .events)
        description = try container.optional(String.self, forKey: .description)
    }
}

/// The body of PATCH /webhooks/{id}: what changes; nothing at all leaves the endpoint as it is.
private struct UpdateWebhookBody: Decodable {
    var url: String?
    var events: [String]?
    var description: String?
    var enabled: Bool?

    enum CodingKeys: String, CodingKey {
        case url, events, description, enabled
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.optional(String.self, forKey: .url)
        events = try container.optional([String].self, forKey: .events)
        description = try container.optional(String.self, forKey: .description)
        enabled = try container.optional(Bool.self, forKey: .enabled)
    }
}

/// The body of POST /webhooks/{id}/replay: exactly one of `since` and `after_event`.
private struct ReplayBody: Decodable {
    var since: String?
    var afterEvent: String?

    enum CodingKeys: String, CodingKey {
        case since
        case afterEvent = "after_event"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        since = try container.optional(String.self, forKey: .since)
        afterEvent = try container.optional(String.self, forKey: .afterEvent)
    }
}

/// An endpoint as its tenant sees it; `secret` only in the answer that created it.
private struct WebhookView: Encodable {
    var id: String
    var url: String
    var events: [String]
    var description: String?
    var enabled: Bool
    var createdAt: Date
    var updatedAt: Date
    var failingSince: Date?
    var lastError: String?
    var disabledAt: Date?
    var disabledReason: String?
    /// While a rotation's overlap lasts: when the previous secret stops signing.
    var previousSecretExpiresAt: Date?
    var secret: String?

    init(_ record: WebhookEndpointRecord, now: Date, secret: WebhookSecret? = nil) {
        id = record.id.api
        url = record.url
        events = record.eventTypes.map(\.rawValue)
        description = record.description
        enabled = record.enabled
        createdAt = record.createdAt
        updatedAt = record.updatedAt
        failingSince = record.failingSince
        lastError = record.lastError
        disabledAt = record.disabledAt
        disabledReason = record.disabledReason
        previousSecretExpiresAt = record.previousSecretExpiresAt.flatMap { $0 > now ? $0 : nil }
        self.secret = secret?.serialized
    }
}

private struct WebhooksView: Encodable {
    var webhooks: [WebhookView]
}

private struct AttemptView: Encodable {
    var attempt: Int
    var at: Date
    var result: String
    var statusCode: Int?
    var error: String?
    var detail: String?
    var latencyMs: Int
    var response: String?
    var instance: String
}

private struct DeliveryView: Encodable {
    var id: Int64
    var eventID: String
    var eventType: String
    var deviceID: String?
    var status: String
    var attempts: Int
    var nextAttemptAt: Date?
    var lastStatusCode: Int?
    var lastError: String?
    var lastLatencyMs: Int?
    var createdAt: Date
    var deliveredAt: Date?
    var failedAt: Date?
    var attemptLog: [AttemptView]

    enum CodingKeys: String, CodingKey {
        case id, status, attempts
        case eventID = "event_id", eventType = "event_type", deviceID = "device_id", nextAttemptAt = "next_attempt_at"
        case lastStatusCode = "last_status_code", lastError = "last_error", lastLatencyMs = "last_latency_ms"
        case createdAt = "created_at", deliveredAt = "delivered_at", failedAt = "failed_at", attemptLog = "attempt_log"
    }

    init(_ record: WebhookDeliveryRecord) {
        id = record.id
        eventID = record.eventID.description
        eventType = record.eventType
        deviceID = record.deviceID?.api
        status = record.status
        attempts = record.attempts
        nextAttemptAt = record.nextAttemptAt
        lastStatusCode = record.lastStatusCode
        lastError = record.lastError
        lastLatencyMs = record.lastLatencyMilliseconds
        createdAt = record.createdAt
        deliveredAt = record.status == "delivered" ? record.finishedAt : nil
        failedAt = record.status == "failed" ? record.finishedAt : nil
        attemptLog = record.attemptLog.map { attempt in
            AttemptView(
                attempt: attempt.attempt, at: attempt.startedAt, result: attempt.result, statusCode: attempt.statusCode, error: attempt.error,
                detail: attempt.detail, latencyMs: attempt.latencyMilliseconds, response: attempt.response, instance: attempt.instance
            )
        }
    }
}

private struct DeliveriesView: Encodable {
    var webhookID: String
    var deliveries: [DeliveryView]
    var nextCursor: String?
}

private struct ReplayView: Encodable {
    var replayed: Int
    var lastEventID: String?

    enum CodingKeys: String, CodingKey {
        case replayed
        case lastEventID = "last_event_id"
    }
}

/// The tenant's webhook endpoints (docs/webhooks.md): register, list, change, delete, rotate the
/// secret, read the deliveries log, replay. Secrets are generated here, shown once and sealed
/// at rest like device credentials.
struct WebhooksController: Sendable {
    let store: WebhookStore
    let sealer: CredentialSealer
    let configuration: WebhookConfiguration
    let now: @Sendable () -> Date

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.post("/webhooks", use: create)
        router.get("/webhooks", use: list)
        router.get("/webhooks/{id}", use: show)
        router.patch("/webhooks/{id}", use: update)
        router.delete("/webhooks/{id}", use: delete)
        router.post("/webhooks/{id}/rotate-secret", use: rotateSecret)
        router.get("/webhooks/{id}/deliveries", use: deliveries)
        router.post("/webhooks/{id}/replay", use: replay)
    }

    @Sendable func create(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let body = try await request.decodeJSON(CreateWebhookBody.self)
        let url = try validURL(body.url)
        let types = try eventTypes(body.events)
        let description = try validDescription(body.description)
        let id = UUID()
        let secret = WebhookSecret.generate()
        guard let record = try await store.createEndpoint(
            id: id, tenantID: access.tenantID, url: url.absoluteString, eventTypes: types, description: description,
            secret: try seal(secret, endpointID: id, tenantID: access.tenantID), limit: configuration.maximumEndpointsPerTenant
        ) else {
            throw APIError(.conflict, .webhookLimitReached, "The tenant has as many webhook endpoints as it may",
                           detail: "at most \(configuration.maximumEndpointsPerTenant); delete one first")
        }
        return try APIJSON.response(.created, WebhookView(record, now: now(), secret: secret), headers: [.location: "/webhooks/\(id.api)"])
    }

    @Sendable func list(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let records = try await store.endpoints(tenantID: access.tenantID)
        return try APIJSON.response(.ok, WebhooksView(webhooks: records.map { WebhookView($0, now: now()) }))
    }

    @Sendable func show(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        return try APIJSON.response(.ok, WebhookView(try await endpoint(context, access), now: now()))
    }

    @Sendable func update(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let id = try endpointID(context)
        let body = try await request.decodeJSON(UpdateWebhookBody.self)
        let changes = WebhookEndpointChanges(
            url: try body.url.map { try validURL($0).absoluteString }, eventTypes: try body.events.map(eventTypes),
            description: try body.description.map { try validDescription($0) ?? "" }, enabled: body.enabled
        )
        guard let record = try await store.updateEndpoint(id, tenantID: access.tenantID, changes: changes, now: now()) else {
            throw Self.notFound
        }
        return try APIJSON.response(.ok, WebhookView(record, now: now()))
    }

    @Sendable func delete(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        guard try await store.deleteEndpoint(try endpointID(context), tenantID: access.tenantID) else { throw Self.notFound }
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    /// A new secret, shown once; the previous one keeps signing beside it for the overlap.
    @Sendable func rotateSecret(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let id = try endpointID(context)
        let secret = WebhookSecret.generate()
        let now = now()
        guard let record = try await store.rotateSecret(
            id, tenantID: access.tenantID, secret: try seal(secret, endpointID: id, tenantID: access.tenantID),
            previousExpiresAt: now.addingTimeInterval(configuration.rotationOverlap.seconds), now: now
        ) else { throw Self.notFound }
        return try APIJSON.response(.ok, WebhookView(record, now: now, secret: secret))
    }

    @Sendable func deliveries(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let endpoint = try await endpoint(context, access)
        var limit = 20
        if let text = request.query("limit") {
            guard let value = Int(text), (1...100).contains(value) else { throw APIError.invalid("limit must be 1 to 100") }
            limit = value
        }
        var before: Int64?
        if let text = request.query("cursor") {
            guard text.utf8.count <= 18, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let value = Int64(text) else {
                throw APIError(.badRequest, .invalidCursor, "The cursor is malformed")
            }
            before = value
        }
        let status = request.query("status")
        if let status, !["pending", "delivering", "delivered", "failed"].contains(status) {
            throw APIError.invalid("status must be pending, delivering, delivered or failed")
        }
        let records = try await store.deliveries(endpointID: endpoint.id, before: before, status: status, limit: limit + 1)
        let page = records.prefix(limit)
        return try APIJSON.response(.ok, DeliveriesView(
            webhookID: endpoint.id.api, deliveries: page.map(DeliveryView.init),
            nextCursor: records.count > limit ? page.last.map { String($0.id) } : nil
        ))
    }

    /// Queues the tenant's events again for this endpoint, from a time or after an event.
    @Sendable func replay(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let id = try endpointID(context)
        let body = try await request.decodeJSON(ReplayBody.self)
        let start: WebhookReplayStart
        switch (body.since, body.afterEvent) {
        case (let since?, nil):
            guard let date = RFC3339.parse(since) else { throw APIError.invalid("since must be an RFC 3339 date-time, e.g. 2026-05-01T12:00:00Z") }
            start = .since(date)
        case (nil, let after?):
            guard let event = EventID(after) else { throw APIError.invalid("after_event must be an event id (evt_…)") }
            start = .afterEvent(event)
        default:
            throw APIError.invalid("give either since or after_event")
        }
        switch try await store.replay(endpointID: id, tenantID: access.tenantID, from: start, limit: configuration.replayLimit) {
        case .replayed(let count, let last):
            return try APIJSON.response(.accepted, ReplayView(replayed: count, lastEventID: last?.description))
        case .endpointNotFound:
            throw Self.notFound
        case .endpointDisabled:
            throw APIError(.conflict, .webhookDisabled, "The webhook endpoint is disabled", detail: "enable it with PATCH {\"enabled\": true} first")
        case .eventNotFound:
            throw APIError.notFound(.eventNotFound, "No such event")
        }
    }

    // MARK: Input

    private static let notFound = APIError.notFound(.webhookNotFound, "No such webhook endpoint")

    private func endpointID(_ context: APIContext) throws -> UUID {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else { throw Self.notFound }
        return id
    }

    /// The `{id}` endpoint, if it is the tenant's; another tenant's is as absent as a missing one.
    private func endpoint(_ context: APIContext, _ access: TenantAccess) async throws -> WebhookEndpointRecord {
        guard let record = try await store.endpoint(try endpointID(context), tenantID: access.tenantID) else { throw Self.notFound }
        return record
    }

    /// The URL as `WebhookURL` validates it, under `webhooks.allow_private`: malformed is 422,
    /// a refused address 403 (a well-formed URL the policy does not let us call).
    private func validURL(_ text: String) throws -> WebhookURL {
        do {
            return try WebhookURL(validating: text, policy: configuration.delivery.addressPolicy)
        } catch {
            let code: APIError.Code = switch error.code {
            case .unsupportedScheme: .unsupportedScheme
            case .credentialsInURL: .credentialsInURL
            case .privateAddress: .privateAddress
            default: .invalidURL
            }
            let status: HTTPResponse.Status = error.code == .privateAddress ? .forbidden : .unprocessableContent
            throw APIError(status, code, "The URL cannot receive webhooks", detail: error.reason)
        }
    }

    private func eventTypes(_ names: [String]) throws -> [EventType] {
        guard !names.isEmpty else { throw APIError.invalid("events must name at least one event type") }
        guard Set(names).count == names.count else { throw APIError.invalid("events must not repeat a type") }
        return try names.map { name in
            guard let type = EventType(rawValue: name) else {
                throw APIError.invalid("events: \(name) is not an event type (\(EventType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return type
        }
    }

    /// nil for none (or empty).
    private func validDescription(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard APIText.fits(text, 0...500) else { throw APIError.invalid("description must be at most 500 characters, without NUL") }
        return text.isEmpty ? nil : text
    }

    private func seal(_ secret: WebhookSecret, endpointID: UUID, tenantID: UUID) throws -> SealedCredential {
        try sealer.tenant(tenantID).seal(secret.bytes, deviceID: endpointID, kind: WebhookStore.secretKind)
    }
}
