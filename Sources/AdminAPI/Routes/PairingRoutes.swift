import DevicePool
import Foundation
import Hummingbird
import PostgresStore
import QRCode
import WAClient
import WAWire

/// The body of POST /pair.
struct PairRequest: Decodable, Sendable {
    var method: PairingMethodKind
    var phone: String?
    var name: String?
    var deviceID: UUID?

    enum CodingKeys: String, CodingKey {
        case method, phone, name
        case deviceID = "device_id"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        method = try container.decode(PairingMethodKind.self, forKey: .method)
        phone = try container.optional(String.self, forKey: .phone)
        name = try container.optional(String.self, forKey: .name)
        deviceID = try container.optional(UUID.self, forKey: .deviceID)
    }

    /// The phone number as the upstream wants it (digits only), validated.
    func pairingMethod() throws -> PairingMethod {
        switch method {
        case .qr:
            guard phone == nil else { throw APIError.invalid("phone is only for method code") }
            return .qr
        case .code:
            guard let phone else { throw APIError.invalid("method code needs phone, the number in international format") }
            let digits = phone.hasPrefix("+") ? String(phone.dropFirst()) : phone
            guard (6...15).contains(digits.count), digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw APIError.invalid("phone must be 6 to 15 digits, optionally after +")
            }
            return .code(phoneNumber: digits)
        }
    }
}

/// A pairing as POST /pair and GET /status show it.
struct PairingView: Encodable, Sendable {
    var pairingID: String
    var deviceID: String
    var method: PairingMethodKind
    /// `waiting` (no QR or code yet), `showing`, or `ended`.
    var status: String
    var qr: String?
    var code: String?
    /// When the QR or code on show is replaced.
    var codeExpiresAt: Date?
    /// When the pairing ends at the latest.
    var expiresAt: Date
    var outcome: PairingOutcome?
    var detail: String?
    var eventsURL: String
    var qrSvgURL: String
    /// The signed page link (absolute), for the phone's owner; no API token needed.
    var pageURL: String?
}

extension GatewayAPI {
    func addTenantRoutes<R>(_ routes: Routes<R>) {
        routes.post("/pair") { request, context in
            let access = try context.requireTenant()
            let body = try await request.decodeJSON(PairRequest.self)
            let method = try body.pairingMethod()
            if let name = body.name, !APIText.fits(name, 1...100) {
                throw APIError.invalid("name must be 1 to 100 characters, without NUL")
            }
            if let wait = limiter.take(tenantID: access.tenantID, now: now()) {
                throw APIError(.tooManyRequests, "rate_limited", "Too many pairing requests",
                               detail: "try again in \(Int(wait.seconds.rounded(.up))) s",
                               headers: [.retryAfter: String(max(1, Int(wait.seconds.rounded(.up))))])
            }
            statusCache.invalidate(tenantID: access.tenantID)
            defer { statusCache.invalidate(tenantID: access.tenantID) }
            let ticket = try await startPairing(access.tenantID, method: method, deviceID: body.deviceID, name: body.name)
            let (latest, outcome) = await firstUpdate(ticket.feed)
            var view = pairingView(
                pairingID: ticket.pairingID, deviceID: ticket.deviceID, method: body.method, deadline: ticket.deadline,
                latest: latest, outcome: outcome
            )
            let link = links.sign(pairingID: ticket.pairingID, expiresAt: ticket.deadline)
            view.pageURL = "\(gate.origin(of: request, peer: context.peer, host: access.host))/?\(link.query)"
            return try APIJSON.response(.created, view, headers: [.location: view.eventsURL])
        }
    }

    func addLinkedRoutes<R>(_ routes: Routes<R>) {
        routes.get("/pair/events") { request, context in
            let pairing = try await watchedPairing(request, context)
            return eventStream(for: pairing)
        }
        routes.get("/pair/qr.svg") { request, context in
            let pairing = try await watchedPairing(request, context)
            guard pairing.endedAt == nil, case .qr(let code, _)? = currentCode(of: pairing) else {
                throw APIError(.notFound, "no_qr", "This pairing shows no QR code right now")
            }
            return Response(
                status: .ok, headers: [.contentType: "image/svg+xml", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: try svg(code)))
            )
        }
    }

    /// Starts a pairing and turns the pool's refusals into problems.
    func startPairing(_ tenantID: UUID, method: PairingMethod, deviceID: UUID?, name: String?) async throws -> PairingTicket {
        do {
            return try await supervisor.startPairing(tenantID: tenantID, method: method, deviceID: deviceID, name: name)
        } catch let busy as PairingInProgress {
            let seconds = busy.expiresAt.map { max(1, Int($0.timeIntervalSince(now()).rounded(.up))) } ?? 5
            throw APIError(.conflict, "pairing_in_progress", "A pairing is already running for this tenant",
                           detail: "one pairing per tenant at a time; it ends by \(busy.expiresAt.map(APIJSON.formatDate) ?? "soon")",
                           headers: [.retryAfter: String(seconds)],
                           activePairing: ActivePairing(pairingID: busy.pairingID, deviceID: busy.deviceID, expiresAt: busy.expiresAt))
        } catch let refused as DeviceStoreError {
            throw APIError(.conflict, refused.code.rawValue, "This device cannot be paired now",
                           detail: "device_id must name an unpaired or logged-out device of this tenant that no instance holds")
        } catch let error as SupervisorError where error.code == .shuttingDown {
            throw APIError(.serviceUnavailable, "shutting_down", "The gateway is shutting down", headers: [.retryAfter: "5"])
        }
    }

    /// Waits a bounded time for the first QR or code (or an early end) of a new pairing.
    func firstUpdate(_ feed: PairingFeed) async -> (latest: PairingUpdate?, outcome: PairingUpdate?) {
        let wait = configuration.firstCodeWait
        let clock = self.clock
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await update in feed.watch() {
                    switch update {
                    case .qr, .code, .ended: return
                    case .paired: continue
                    }
                }
            }
            group.addTask { try? await clock.sleep(for: wait) }
            await group.next()
            group.cancelAll()
        }
        return feed.current
    }

    func pairingView(pairingID: UUID, deviceID: UUID, method: PairingMethodKind, deadline: Date,
                     latest: PairingUpdate?, outcome: PairingUpdate?) -> PairingView {
        let id = pairingID.uuidString.lowercased()
        var view = PairingView(
            pairingID: pairingID.api, deviceID: deviceID.api, method: method, status: "waiting", expiresAt: deadline,
            eventsURL: "/pair/events?pairing=\(id)", qrSvgURL: "/pair/qr.svg?pairing=\(id)"
        )
        if case .ended(let result, let detail)? = outcome {
            view.status = "ended"
            view.outcome = result
            view.detail = detail
            return view
        }
        switch latest {
        case .qr(let code, let expiresAt)?:
            view.status = "showing"
            view.qr = code
            view.codeExpiresAt = expiresAt
        case .code(let code, let expiresAt)?:
            view.status = "showing"
            view.code = code
            view.codeExpiresAt = expiresAt
        default:
            break
        }
        return view
    }

    /// The pairing an event stream or QR image is about: the link's, the `pairing` parameter's,
    /// or the tenant's open one — always the caller's tenant's.
    func watchedPairing(_ request: Request, _ context: APIContext) async throws -> PairingRecord {
        let access = try context.requireTenant()
        let pairingID: UUID
        switch access.credential {
        case .link(let linked):
            pairingID = linked
        case .token:
            if let text = request.query("pairing") {
                guard let id = UUID(uuidString: text) else { throw APIError.invalid("pairing must be a pairing id") }
                pairingID = id
            } else {
                guard let open = try await devices.openPairing(tenantID: access.tenantID) else {
                    throw APIError(.notFound, "no_active_pairing", "This tenant has no pairing running")
                }
                pairingID = open.id
            }
        }
        guard let record = try await devices.pairing(pairingID), record.tenantID == access.tenantID else {
            throw APIError(.notFound, "pairing_not_found", "No such pairing")
        }
        return record
    }

    /// The QR or code on show, from this instance's feed or the fleet relay.
    func currentCode(of pairing: PairingRecord) -> PairingUpdate? {
        if let feed = supervisor.pairingFeed(pairing.id) { return feed.current.latest }
        return relay.latest(pairing.id)
    }

    func svg(_ code: String) throws -> String {
        do {
            return try QRCode.encode(code).svg(moduleSize: 6, quietZone: 4)
        } catch {
            throw APIError(.internalServerError, "qr_encoding_failed", "The QR code could not be drawn")
        }
    }
}

extension APIContext {
    func requireTenant() throws -> TenantAccess {
        guard let tenant else { throw APIError.unauthorized }
        return tenant
    }
}
