import Foundation
import Hummingbird
import WAWire

/// The simulator's control API: the simulated phone, contacts, groups and their messages, faults, stats
/// and the root key, as JSON over HTTP.
public struct ControlRoutes: Sendable {
    /// Request bodies are small JSON documents; anything larger is refused before it is read.
    static let maxBodySize = 64 * 1024

    let simulator: Simulator

    public init(simulator: Simulator) {
        self.simulator = simulator
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        add(to: router)
        return router
    }

    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: ControlPage.html))
            )
        }
        router.get("/healthz") { _, _ in
            try json(.ok, ["status": "ok"])
        }
        router.get("/root-key") { _, _ in
            try json(.ok, RootKeyBody(publicKey: simulator.rootPublicKeyHex))
        }
        router.get("/stats") { request, _ in
            let devices = request.uri.queryParameters.get("devices").map { $0 == "1" || $0 == "true" } ?? false
            return try json(.ok, simulator.statsSnapshot(includeDevices: devices))
        }
        addPhoneRoutes(to: router)
        addFaultRoutes(to: router)
        addMessagingRoutes(to: router)
    }

    private func addPhoneRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.post("/phone/scan") { request, context in
            let body = try await decode(ScanRequest.self, from: request, context: context)
            let outcome = try await call { () throws(SimulatorError) in
                try await simulator.scan(qr: body.qr, phone: body.phone)
            }
            switch outcome {
            case .linked(let device):
                return try json(.ok, PhoneResult(status: "linked", device: device))
            case .refreshSent:
                return try json(.accepted, PhoneResult(status: "refresh_sent", device: nil))
            }
        }
        router.post("/phone/code") { request, context in
            let body = try await decode(CodeRequest.self, from: request, context: context)
            let device = try await call { () throws(SimulatorError) in
                try await simulator.enterCode(body.code, phone: body.phone)
            }
            return try json(.ok, PhoneResult(status: "linked", device: device))
        }
        router.get("/phones") { _, _ in
            try json(.ok, PhonesBody(defaultPhone: (try? Simulator.normalizedPhone(simulator.configuration.defaultPhone)) ?? simulator.configuration.defaultPhone, phones: simulator.phones.map(PhoneBody.init)))
        }
        router.post("/phones") { request, context in
            let body = try await decode(PhoneRequest.self, from: request, context: context)
            let existed = (try? Simulator.normalizedPhone(body.phone)).flatMap(simulator.world.account(phoneNumber:)) != nil
            let account = try await call { () throws(SimulatorError) in try simulator.phone(body.phone) }
            return try json(existed ? .ok : .created, PhoneBody(account))
        }
        router.get("/phones/{phone}/devices") { _, context in
            let phone = try context.parameters.require("phone")
            let devices = try await call { () throws(SimulatorError) in try simulator.devices(of: phone) }
            return try json(.ok, DevicesBody(phone: phone, devices: devices))
        }
        router.delete("/phones/{phone}/devices/{device}") { _, context in
            let phone = try context.parameters.require("phone")
            guard let device = context.parameters.get("device", as: UInt16.self) else {
                throw ControlProblem(.badRequest, code: "invalid_device", title: "Invalid request", detail: "the device is its number, e.g. 3")
            }
            try await call { () throws(SimulatorError) in try simulator.unlink(device: device, of: phone) }
            return Response(status: .noContent)
        }
    }

    private func addFaultRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/faults") { _, _ in
            try json(.ok, FaultsBody(simulator.faults))
        }
        router.post("/faults") { request, context in
            let body = try await decode(FaultRequest.self, from: request, context: context)
            if body.live == true {
                guard let device = body.device else {
                    throw ControlProblem(.badRequest, code: "invalid_body", title: "Invalid request", detail: "a live fault needs a device")
                }
                let hit = try await call { () throws(SimulatorError) in
                    try simulator.injectNow(body.kind, device: device, delay: body.delayMs.map { .milliseconds($0) })
                }
                guard hit else {
                    throw ControlProblem(.notFound, code: "device_offline", title: "Not found", detail: "\(device) has no logged-in connection")
                }
                return try json(.ok, FaultsBody(simulator.faults))
            }
            let fault = ArmedFault(
                kind: body.kind,
                count: body.count ?? 1,
                device: body.device,
                delay: body.delayMs.map { .milliseconds($0) }
            )
            try await call { () throws(SimulatorError) in try simulator.faults.arm(fault) }
            return try json(.created, FaultsBody(simulator.faults))
        }
        router.put("/faults/schedule") { request, context in
            let body = try await decode(ScheduleRequest.self, from: request, context: context)
            let schedule = FaultSchedule(
                rates: body.rates,
                seed: body.seed ?? 0,
                delays: (body.delaysMs ?? [:]).mapValues { .milliseconds($0) }
            )
            try await call { () throws(SimulatorError) in try simulator.faults.setSchedule(schedule) }
            return try json(.ok, FaultsBody(simulator.faults))
        }
        router.delete("/faults") { _, _ in
            simulator.faults.clear()
            return Response(status: .noContent)
        }
    }
}

// MARK: - Bodies

struct RootKeyBody: Codable {
    /// The root public key, 64 hex characters: what a gateway is told to trust.
    var publicKey: String
}

struct ScanRequest: Decodable {
    var qr: String
    var phone: String?
}

struct CodeRequest: Decodable {
    var phone: String
    var code: String
}

struct PhoneRequest: Decodable {
    var phone: String
}

struct PhoneBody: Encodable {
    var phone: String
    var lid: String
    var platform: String

    init(_ account: SimAccount) {
        phone = account.phoneNumber
        lid = account.lidUser
        platform = account.platform
    }
}

struct PhonesBody: Encodable {
    /// Where a scan without a phone number links.
    var defaultPhone: String
    var phones: [PhoneBody]
}

struct PhoneResult: Encodable {
    var status: String
    var device: LinkedDeviceInfo?
}

struct DevicesBody: Encodable {
    var phone: String
    var devices: [LinkedDeviceInfo]
}

struct FaultRequest: Decodable {
    var kind: FaultKind
    var count: Int?
    var device: String?
    var delayMs: Int64?
    /// Hit `device`'s current connection now instead of arming the fault for later ones.
    var live: Bool?
}

struct ScheduleRequest: Decodable {
    var rates: [FaultKind: Double]
    var seed: UInt64?
    var delaysMs: [FaultKind: Int64]?
}

struct FaultsBody: Encodable {
    struct Armed: Encodable {
        var kind: FaultKind
        var remaining: Int
        var device: String?
        var delayMs: Int64
    }

    struct Schedule: Encodable {
        var rates: [FaultKind: Double]
        var seed: UInt64
        var delaysMs: [FaultKind: Int64]
    }

    var armed: [Armed]
    var schedule: Schedule?

    init(_ faults: FaultInjector) {
        armed = faults.armed.map {
            Armed(kind: $0.kind, remaining: $0.remaining, device: $0.device, delayMs: $0.delay.milliseconds)
        }
        schedule = faults.schedule.map {
            Schedule(rates: $0.rates, seed: $0.seed, delaysMs: $0.delays.mapValues(\.milliseconds))
        }
    }
}

// MARK: - Helpers

func json(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    return Response(
        status: status,
        headers: [.contentType: "application/json"],
        body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value)))
    )
}

func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: ControlRoutes.maxBodySize)
    } catch {
        throw ControlProblem(.contentTooLarge, code: "body_too_large", title: "Invalid request", detail: "bodies are at most 64 KiB")
    }
    do {
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    } catch let error as DecodingError {
        throw ControlProblem(.badRequest, code: "invalid_body", title: "Invalid request", detail: describe(error))
    }
}

/// Runs a simulator call, turning its refusal into a problem document.
func call<T>(_ body: () async throws(SimulatorError) -> T) async throws(ControlProblem) -> T {
    do {
        return try await body()
    } catch {
        throw ControlProblem(error)
    }
}

private func describe(_ error: DecodingError) -> String {
    switch error {
    case .keyNotFound(let key, _):
        "missing field \(key.stringValue)"
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
        context.codingPath.isEmpty
            ? "the body is not the expected JSON object"
            : "invalid field \(context.codingPath.map(\.stringValue).joined(separator: "."))"
    @unknown default:
        "the body is not the expected JSON object"
    }
}
