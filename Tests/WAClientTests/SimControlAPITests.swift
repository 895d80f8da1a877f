import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import WAWire
@testable import WASim

@Suite("Simulator control API over HTTP")
struct SimControlAPITests {
    private struct Problem: Decodable {
        var status: Int
        var code: String
        var detail: String?
    }

    private func withAPI(_ body: @escaping @Sendable (Simulator, any TestClientProtocol) async throws -> Void) async throws {
        let simulator = try Simulator(configuration: SimConfiguration())
        let application = Application(router: ControlRoutes(simulator: simulator).router())
        try await application.test(.live) { client in
            try await body(simulator, client)
        }
    }

    private static func json<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(response.body.readableBytesView))
    }

    private static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    private static func expectProblem(_ response: TestResponse, status: HTTPResponse.Status, code: String) throws {
        #expect(response.status == status)
        #expect(response.headers[.contentType] == "application/problem+json")
        let problem = try json(Problem.self, response)
        #expect(problem.code == code)
        #expect(problem.status == status.code)
    }

    @Test func servesHealthTheRootKeyAndThePage() async throws {
        try await withAPI { simulator, client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/root-key", method: .get) { response in
                struct Key: Decodable { var publicKey: String }
                let key = try Self.json(Key.self, response)
                #expect(key.publicKey == simulator.rootPublicKeyHex)
                #expect(key.publicKey.count == 64)
            }
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let page = String(buffer: response.body)
                #expect(page.contains("/phone/scan"))
                #expect(page.contains("<form id=\"code\">"))
            }
        }
    }

    @Test func createsAndListsPhonesAndTheirDevices() async throws {
        try await withAPI { _, client in
            try await client.execute(uri: "/phones", method: .post, body: Self.body(#"{"phone":"+1 555 000 4242"}"#)) { response in
                #expect(response.status == .created)
                struct Phone: Decodable { var phone: String; var platform: String }
                let phone = try Self.json(Phone.self, response)
                #expect(phone.phone == "15550004242")
            }
            try await client.execute(uri: "/phones", method: .post, body: Self.body(#"{"phone":"15550004242"}"#)) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/phones", method: .get) { response in
                struct Phones: Decodable { struct Phone: Decodable { var phone: String }; var phones: [Phone] }
                let phones = try Self.json(Phones.self, response)
                #expect(phones.phones.map(\.phone) == ["15550001234", "15550004242"])
            }
            try await client.execute(uri: "/phones/15550004242/devices", method: .get) { response in
                struct Devices: Decodable { var phone: String; var devices: [LinkedDeviceInfo] }
                let devices = try Self.json(Devices.self, response)
                #expect(devices.devices.isEmpty)
            }
            try await client.execute(uri: "/phones/15559999999/devices", method: .get) { response in
                try Self.expectProblem(response, status: .notFound, code: "unknown_phone")
            }
            try await client.execute(uri: "/phones/15550004242/devices/3", method: .delete) { response in
                try Self.expectProblem(response, status: .notFound, code: "unknown_device")
            }
            try await client.execute(uri: "/phones/15550004242/devices/x", method: .delete) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_device")
            }
        }
    }

    @Test func refusesBadScansAndCodesWithProblems() async throws {
        try await withAPI { _, client in
            try await client.execute(uri: "/phone/scan", method: .post, body: Self.body(#"{"qr":"hello"}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_qr")
            }
            let qr = try PairingQR(
                ref: "2@nobody", noisePublicKey: [UInt8](repeating: 1, count: 32), identityPublicKey: [UInt8](repeating: 2, count: 32),
                advSecret: [UInt8](repeating: 3, count: 32), platform: .chrome
            )
            let scan = try String(decoding: JSONEncoder().encode(["qr": qr.string]), as: UTF8.self)
            try await client.execute(uri: "/phone/scan", method: .post, body: Self.body(scan)) { response in
                try Self.expectProblem(response, status: .notFound, code: "unknown_ref")
            }
            try await client.execute(uri: "/phone/code", method: .post, body: Self.body(#"{"phone":"15550001234","code":"ABCD-EFGH"}"#)) { response in
                try Self.expectProblem(response, status: .notFound, code: "no_pending_code")
            }
            try await client.execute(uri: "/phone/code", method: .post, body: Self.body(#"{"phone":"15550001234"}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_body")
            }
            try await client.execute(uri: "/phone/code", method: .post, body: Self.body(#"{"phone":"042","code":"ABCD-EFGH"}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_phone_number")
            }
        }
    }

    @Test func armsSchedulesListsAndClearsFaults() async throws {
        try await withAPI { simulator, client in
            let arm = #"{"kind":"stream_error_515","count":3,"device":"15550001234:1@s.whatsapp.net"}"#
            try await client.execute(uri: "/faults", method: .post, body: Self.body(arm)) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/faults", method: .post, body: Self.body(#"{"kind":"delay_handshake","delayMs":1500}"#)) { response in
                #expect(response.status == .created)
            }
            #expect(simulator.faults.armed == [
                ArmedFault(kind: .streamError515, count: 3, device: "15550001234:1@s.whatsapp.net"),
                ArmedFault(kind: .delayHandshake, delay: .milliseconds(1500)),
            ])
            try await client.execute(uri: "/faults", method: .post, body: Self.body(#"{"kind":"refuse_connection","device":"15550001234:1@s.whatsapp.net"}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "device_not_targetable")
            }
            try await client.execute(uri: "/faults", method: .post, body: Self.body(#"{"kind":"melt_down"}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_body")
            }
            let schedule = #"{"rates":{"stream_error_503":0.25,"missing_keepalive":0.1},"seed":7,"delaysMs":{"slow_keepalive":15000}}"#
            try await client.execute(uri: "/faults/schedule", method: .put, body: Self.body(schedule)) { response in
                #expect(response.status == .ok)
            }
            #expect(simulator.faults.schedule == FaultSchedule(
                rates: [.streamError503: 0.25, .missingKeepalive: 0.1], seed: 7, delays: [.slowKeepalive: .seconds(15)]
            ))
            try await client.execute(uri: "/faults/schedule", method: .put, body: Self.body(#"{"rates":{"unlink":2}}"#)) { response in
                try Self.expectProblem(response, status: .badRequest, code: "invalid_rate")
            }
            try await client.execute(uri: "/faults", method: .get) { response in
                struct Faults: Decodable {
                    struct Armed: Decodable { var kind: String; var remaining: Int; var delayMs: Int }
                    struct Schedule: Decodable { var rates: [String: Double]; var seed: UInt64 }
                    var armed: [Armed]
                    var schedule: Schedule?
                }
                let faults = try Self.json(Faults.self, response)
                #expect(faults.armed.map(\.kind) == ["stream_error_515", "delay_handshake"])
                #expect(faults.armed.last?.delayMs == 1500)
                #expect(faults.schedule?.rates == ["stream_error_503": 0.25, "missing_keepalive": 0.1])
            }
            try await client.execute(uri: "/faults", method: .delete) { #expect($0.status == .noContent) }
            #expect(simulator.faults.armed.isEmpty)
            #expect(simulator.faults.schedule == nil)
        }
    }

    @Test func statsListDevicesOnRequest() async throws {
        try await withAPI { simulator, client in
            simulator.stats.record(.loggedIn(SimConnectionID(1), device: JID(user: "15550001234", device: 1, server: .whatsApp)))
            try await client.execute(uri: "/stats", method: .get) { response in
                let stats = try Self.json(SimStatsSnapshot.self, response)
                #expect(stats.logins == 1)
                #expect(stats.maxConcurrentPerDevice == 1)
                #expect(stats.devices == nil)
            }
            try await client.execute(uri: "/stats?devices=1", method: .get) { response in
                let stats = try Self.json(SimStatsSnapshot.self, response)
                #expect(stats.devices?.map(\.jid) == ["15550001234:1@s.whatsapp.net"])
            }
        }
    }
}
