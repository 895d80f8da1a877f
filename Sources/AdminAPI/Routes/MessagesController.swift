import DevicePool
import Foundation
import Hummingbird
import HTTPTypes
import Messaging
import PostgresStore

/// A stored message as a tenant reads it: the JIDs as received (they are the tenant's customers'
/// addresses), the type, the text when it has one, and when the server and this gateway got it.
private struct MessageView: Encodable {
    var id: String
    var deviceID: String
    var direction: String
    var chat: String
    var sender: String
    var waID: String
    var type: String
    var text: String?
    var fromMe: Bool
    /// The stanza's `t`.
    var timestamp: Date
    var receivedAt: Date
    /// The decrypted `Message` protobuf, base64; only on `GET /messages/{id}`.
    var raw: String?
    /// Outbound only: where the message is, the `to` it was sent with, and when each status was reached.
    var status: String?
    var to: String?
    var queuedAt: Date?
    var sentAt: Date?
    var deliveredAt: Date?
    var readAt: Date?
    var failedAt: Date?
    var failureReason: String?

    init(_ message: StoredMessage) {
        id = message.id.api
        deviceID = message.deviceID.api
        direction = message.direction
        chat = message.chat
        sender = message.sender
        waID = message.waID
        type = message.type
        text = message.text
        fromMe = message.fromMe
        timestamp = message.sentAt
        receivedAt = message.receivedAt
        raw = message.raw.map { Data($0).base64EncodedString() }
        if let outbound = message.outbound {
            status = outbound.status
            to = outbound.recipient
            queuedAt = outbound.queuedAt
            sentAt = outbound.sentAt
            deliveredAt = outbound.deliveredAt
            readAt = outbound.readAt
            failedAt = outbound.failedAt
            failureReason = outbound.failureReason
        }
    }
}

/// The body of POST /messages.
private struct SendRequest: Decodable {
    var deviceID: String
    var to: String
    var text: String

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id"
        case to, text
    }
}

private struct MessagePage: Encodable {
    var messages: [MessageView]
    /// Pass as `after` for the messages that follow; the request's own `after` when there were none.
    var nextCursor: String?
    /// The page is full: more may follow at once.
    var hasMore: Bool
}

/// GET /messages and GET /messages/{id}: the tenant's inbox (docs/messaging.md), oldest first, paged
/// by an opaque cursor.
struct MessagesController: Sendable {
    let devices: PostgresDeviceStore
    let fleet: FleetBus
    let dailyQuota: Int?
    let now: @Sendable () -> Date

    static let defaultLimit = 100
    static let maximumLimit = 500

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.get("/messages", use: list)
        router.post("/messages", use: send)
        router.get("/messages/{id}", use: show)
    }

    @Sendable func list(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        var limit = Self.defaultLimit
        if let text = request.query("limit") {
            guard let value = Int(text), (1...Self.maximumLimit).contains(value) else {
                throw APIError.invalid("limit must be 1 to \(Self.maximumLimit)")
            }
            limit = value
        }
        var direction: String?
        if let text = request.query("direction") {
            guard text == "in" || text == "out" else { throw APIError.invalid("direction must be in or out") }
            direction = text
        }
        var after: Int64 = 0
        if let text = request.query("after") {
            guard let seq = MessageCursor.seq(text) else { throw APIError(.badRequest, .invalidCursor, "The cursor is malformed") }
            after = seq
        }
        var deviceID: UUID?
        if let text = request.query("device_id") {
            guard let id = UUID(uuidString: text) else { throw APIError.invalid("device_id must be a UUID") }
            guard let device = try await devices.device(id), device.tenantID == access.tenantID else {
                throw APIError.notFound(.deviceNotFound, "No such device")
            }
            deviceID = device.id
        }
        let rows = try await devices.messages(
            tenantID: access.tenantID, deviceID: deviceID, direction: direction, after: after, limit: limit + 1
        )
        let page = rows.prefix(limit)
        let next = page.last.map { MessageCursor.token($0.seq) } ?? request.query("after")
        return try APIJSON.response(.ok, MessagePage(messages: page.map(MessageView.init), nextCursor: next, hasMore: rows.count > limit))
    }

    /// Queues a text message (docs/messaging.md "Sending"): 202 with the row, which the device's owner
    /// sends when it is online. An `Idempotency-Key` seen before answers with its row for the same
    /// request, and 422 for another.
    @Sendable func send(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let key = try Self.idempotencyKey(request)
        let body = try await request.decodeJSON(SendRequest.self, limit: Self.sendBodyLimit)
        guard let deviceID = UUID(uuidString: body.deviceID) else {
            throw APIError.invalid("device_id must be a UUID")
        }
        guard let chat = OutboundRecipient.parse(body.to) else {
            throw APIError(
                .unprocessableContent, .invalidRecipient, "The recipient is not valid",
                detail: "to must be an international number such as +15551234567, a user JID (…@s.whatsapp.net, …@lid) or a group JID (…@g.us)"
            )
        }
        guard OutboundText.fits(body.text), !body.text.unicodeScalars.contains("\0") else {
            throw APIError(
                .unprocessableContent, .textTooLong, "The text cannot be sent",
                detail: "text must be 1 to \(OutboundText.maximumLength) characters, without NUL"
            )
        }
        let submission = OutboundSubmission(
            tenantID: access.tenantID, deviceID: deviceID, recipient: body.to, chat: chat, text: body.text, idempotencyKey: key
        )
        switch try await devices.queueMessage(submission, now: now(), dailyQuota: dailyQuota) {
        case .queued(let message):
            await fleet.outboxReady(deviceID: deviceID)
            return try APIJSON.response(.accepted, MessageView(message), headers: [.location: "/messages/\(message.id.api)"])
        case .replayed(let message):
            return try APIJSON.response(
                .accepted, MessageView(message), headers: [.location: "/messages/\(message.id.api)", Self.replayed: "true"]
            )
        case .keyReused:
            throw APIError(
                .unprocessableContent, .idempotencyKeyReused, "The Idempotency-Key was used with another request",
                detail: "send the same body again, or use a new key"
            )
        case .deviceNotFound:
            throw APIError.notFound(.deviceNotFound, "No such device")
        case .quotaExceeded:
            throw APIError(
                .tooManyRequests, .quotaExceeded, "The tenant's daily message quota is used up",
                detail: "at most \(dailyQuota ?? 0) messages in 24 hours", headers: [.retryAfter: "3600"]
            )
        case .deviceNotPaired:
            throw APIError(.conflict, .deviceNotPaired, "The device is not paired", detail: "pair the device before sending from it")
        }
    }

    /// A text at the limit, every code point escaped as JSON may spell it (a surrogate pair is 12 bytes
    /// for two), fits with room for the other fields.
    static let sendBodyLimit = 1 << 20

    /// `Idempotent-Replayed: true` marks an answer repeated for a known key (as Stripe does).
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    /// The optional `Idempotency-Key`: 1 to 255 visible ASCII characters.
    static func idempotencyKey(_ request: Request) throws -> String? {
        guard let name = HTTPField.Name("Idempotency-Key"), let value = request.headers[name] else {
            return nil
        }
        guard (1...255).contains(value.utf8.count), value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw APIError.invalid("Idempotency-Key must be 1 to 255 visible ASCII characters")
        }
        return value
    }

    @Sendable func show(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
              let message = try await devices.message(id, tenantID: access.tenantID)
        else {
            throw APIError.notFound(.messageNotFound, "No such message")
        }
        return try APIJSON.response(.ok, MessageView(message))
    }
}

/// The inbox cursor: a message's `seq` as 8 bytes big-endian, base64url without padding (11
/// characters). Opaque to clients; any well-formed one is a valid position.
enum MessageCursor {
    static func token(_ seq: Int64) -> String {
        let bytes = (0..<8).reversed().map { UInt8(truncatingIfNeeded: seq >> (8 * $0)) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func seq(_ token: String) -> Int64? {
        guard token.utf8.count == 11, token.utf8.allSatisfy({ $0.isBase64URL }) else { return nil }
        let standard = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "="
        guard let data = Data(base64Encoded: standard), data.count == 8 else { return nil }
        let seq = data.reduce(Int64(0)) { $0 << 8 | Int64($1) }
        // The top bit set would be a negative seq, which no row has; refusing it keeps the round trip exact.
        return seq >= 0 && token == self.token(seq) ? seq : nil
    }
}

extension UInt8 {
    fileprivate var isBase64URL: Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || self == UInt8(ascii: "-") || self == UInt8(ascii: "_")
    }
}
