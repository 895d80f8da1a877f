import AdminAPI
import DevicePool
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresStore
import Testing
import WAClient
import WASim
import WAWire

/// POST /messages to a group, end to end over loopback: the gateway, the real client and the simulated
/// WhatsApp, whose member contacts read the SKDM and the `skmsg` with real Signal state and count each
/// message id they got.
@Suite("Group sends through the API against the simulator", .requiresDatabase)
struct GroupSendSimulatorTests {
    @Test func everyMemberGetsEachGroupMessageOnceAndTheStatusFollowsTheirReceipts() async throws {
        try await APIHarness.withSimulator { h, simulator, _ in
            let pair = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"qr","name":"group"}"#)
            let qr = try #require(pair.json["qr"] as? String)
            let deviceID = try #require((pair.json["device_id"] as? String).flatMap(UUID.init(uuidString:)))
            _ = try await simulator.scan(qr: qr)
            try await eventually("online") { try await h.store.device(deviceID)?.state == .online }

            let ann = try simulator.contact("+15550002001", name: "Ann")
            let bob = try simulator.contact("+15550002002", name: "Bob", readsMessages: false)
            let group = try simulator.createGroup(account: "15550001234", members: [ann.phoneNumber, bob.phoneNumber])
            let other = try simulator.createGroup(account: "15550001234", members: [ann.phoneNumber])

            func send(_ text: String, to: String) async throws -> String {
                let reply = try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: """
                    {"device_id":"\(deviceID.uuidString)","to":"\(to)","text":"\(text)"}
                    """)
                #expect(reply.status == 202)
                #expect(reply.json["chat"] as? String == to)
                return try #require(reply.json["id"] as? String)
            }
            func status(_ id: String) async throws -> [String: any Sendable] {
                try await h.request(.GET, "/messages/\(id)", host: h.acme.host, token: h.acme.token).json
            }

            let first = try await send("hello group", to: group.jid.description)
            // Ann reads her messages and Bob does not: delivered at the first member's receipt, read at
            // the first read receipt.
            try await eventually("read", limit: .seconds(30)) { try await status(first)["status"] as? String == "read" }
            let second = try await send("again", to: group.jid.description)
            try await eventually("delivered", limit: .seconds(30)) {
                ["delivered", "read"].contains(try await status(second)["status"] as? String)
            }
            // A group of the same account that the device has not written to yet, and a group that
            // does not exist: it fails with its reason.
            let third = try await send("other group", to: other.jid.description)
            let missing = try await send("nobody", to: "120363999999999999@g.us")
            try await eventually("the missing group failed", limit: .seconds(30)) { try await status(missing)["status"] as? String == "failed" }
            #expect(try await status(missing)["failure_reason"] as? String == "group_not_found")
            try await eventually("third delivered", limit: .seconds(30)) {
                ["delivered", "read"].contains(try await status(third)["status"] as? String)
            }

            let stats = simulator.stats.snapshot()
            #expect(stats.receivedByContact == [ann.phoneNumber: 3, bob.phoneNumber: 2])
            #expect(stats.duplicatesByContact.isEmpty)
            #expect(stats.undecryptableReceived == 0 && stats.retriesRequested == 0)
            #expect(stats.violations.isEmpty, "\(stats.violations)")
        }
    }
}
