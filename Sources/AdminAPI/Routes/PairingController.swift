import DevicePool
import Foundation
import Hummingbird
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

/// POST /pair: starts the tenant's pairing and answers with its first QR or code.
struct PairingController: Sendable {
    let supervisor: Supervisor
    let pairings: PairingWatchers
    let limiter: PairingRateLimiter
    let links: PairingLinkSigner
    let gate: TenantGate
    let statusCache: StatusCache
    /// How long POST /pair waits for the first QR or code before answering without it.
    let firstCodeWait: Duration
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.post("/pair", use: start)
    }

    @Sendable func start(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let body = try await request.decodeJSON(PairRequest.self)
        let method = try body.pairingMethod()
        if let name = body.name, !APIText.fits(name, 1...100) {
            throw APIError.invalid("name must be 1 to 100 characters, without NUL")
        }
        if let wait = limiter.take(tenantID: access.tenantID, now: now()) {
            let seconds = max(1, Int(wait.seconds.rounded(.up)))
            throw APIError(.tooManyRequests, .rateLimited, "Too many pairing requests",
                           detail: "try again in \(Int(wait.seconds.rounded(.up))) s", headers: [.retryAfter: String(seconds)])
        }
        statusCache.invalidate(tenantID: access.tenantID)
        defer { statusCache.invalidate(tenantID: access.tenantID) }
        let ticket = try await startPairing(access.tenantID, method: method, deviceID: body.deviceID, name: body.name)
        let (latest, outcome) = await firstUpdate(ticket)
        var view = PairingView(
            pairingID: ticket.pairingID, deviceID: ticket.deviceID, method: body.method, deadline: ticket.deadline,
            latest: latest, outcome: outcome
        )
        let link = links.sign(pairingID: ticket.pairingID, expiresAt: ticket.deadline)
        view.pageURL = "\(gate.origin(of: request, peer: context.peer, host: access.host))/?\(link.query)"
        return try APIJSON.response(.created, view, headers: [.location: view.eventsURL])
    }

    /// Starts a pairing and turns the pool's refusals into problems.
    private func startPairing(_ tenantID: UUID, method: PairingMethod, deviceID: UUID?, name: String?) async throws -> PairingTicket {
        do {
            return try await supervisor.startPairing(tenantID: tenantID, method: method, deviceID: deviceID, name: name)
        } catch let busy as PairingInProgress {
            let seconds = busy.expiresAt.map { max(1, Int($0.timeIntervalSince(now()).rounded(.up))) } ?? 5
            throw APIError(.conflict, .pairingInProgress, "A pairing is already running for this tenant",
                           detail: "one pairing per tenant at a time; it ends by \(busy.expiresAt.map(APIJSON.formatDate) ?? "soon")",
                           headers: [.retryAfter: String(seconds)],
                           activePairing: ActivePairing(pairingID: busy.pairingID, deviceID: busy.deviceID, expiresAt: busy.expiresAt))
        } catch let error as SupervisorError where error.code == .shuttingDown {
            throw APIError.shuttingDown
        }
    }

    /// Waits a bounded time for the first QR or code (or an early end) of a new pairing.
    private func firstUpdate(_ ticket: PairingTicket) async -> (latest: PairingUpdate?, outcome: PairingUpdate?) {
        let wait = firstCodeWait
        let clock = self.clock
        let updates = pairings.watch(ticket.pairingID, deadline: ticket.deadline).updates
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await update in updates {
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
        return pairings.current(ticket.pairingID)
    }
}
