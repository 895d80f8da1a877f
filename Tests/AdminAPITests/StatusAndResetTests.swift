import AdminAPI
import DevicePool
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient

@Suite("GET /status, history and POST /reset", .requiresDatabase)
struct StatusAndResetTests {
    /// Pairs a device for `tenant` through the API and brings it online; returns its id.
    @Test func statusListsDevicesWithMaskedNumbersLastDisconnectAndTheActivePairing() async throws {
        try await APIHarness.run { h in
            let deviceID = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            let (_, _) = try await h.startQRPairing(h.acme, qr: "QR-NEXT")
            let status = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token)
            #expect(status.status == 200)
            let devices = try #require(status.json["devices"] as? [[String: any Sendable]])
            #expect(devices.count == 2)
            let online = try #require(devices.first { $0["id"] as? String == deviceID.uuidString.lowercased() })
            #expect(online["state"] as? String == "online")
            #expect(online["number"] as? String == "•••4567")
            #expect(online["since"] is String)
            let last = try #require(online["last_disconnect"] as? [String: any Sendable])
            #expect(last["category"] as? String == "restart_required")
            #expect(last["code"] as? Int == 515)
            #expect(last["decision"] as? String == "reconnect_now")
            #expect(last["stage"] as? String == "stream")
            #expect(!status.body.contains("15551234567"))
            let active = try #require(status.json["active_pairing"] as? [String: any Sendable])
            #expect(active["qr"] as? String == "QR-NEXT")
            // The other tenant sees none of it.
            let beta = try await h.request(.GET, "/status", host: h.beta.host, token: h.beta.token)
            #expect((beta.json["devices"] as? [Any])?.isEmpty == true)
            #expect(beta.json["active_pairing"] == nil)
        }
    }

    @Test func statusIsReusedWithinItsCacheTimeAndDroppedByTheTenantsOwnReset() async throws {
        try await APIHarness.run(configure: { $0.statusCacheTTL = .seconds(1) }) { h in
            let deviceID = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            func state() async throws -> String? {
                let status = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token)
                return (status.json["devices"] as? [[String: any Sendable]])?.first?["state"] as? String
            }
            #expect(try await state() == "online")
            // A change made behind this instance's back shows once the cache time has passed.
            let record = try #require(try await h.store.device(deviceID))
            try await h.pool.query("UPDATE devices SET state = 'connecting' WHERE id = $1", [record.id])
            #expect(try await state() == "online")
            h.clock.advance(by: .seconds(1))
            #expect(try await state() == "connecting")
            // The tenant's own reset through this instance is visible at once.
            _ = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token,
                                    json: #"{"device_id":"\#(deviceID.uuidString)","mode":"logout"}"#)
            #expect(try await state() == "logged_out")
        }
    }

    @Test func historyPagesThroughTransitionsAndDisconnectsWithACursor() async throws {
        try await APIHarness.run { h in
            let deviceID = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            let path = "/devices/\(deviceID.uuidString.lowercased())/history"
            let all = try await h.request(.GET, path, host: h.acme.host, token: h.acme.token)
            #expect(all.status == 200)
            let entries = try #require(all.json["entries"] as? [[String: any Sendable]])
            // unpaired>pairing, pairing>paired, paired>connecting, connecting>online, one 515 disconnect.
            #expect(entries.count == 5)
            #expect(entries.first?["kind"] as? String == "transition")
            #expect(entries.first?["to"] as? String == "online")
            #expect(entries.contains { $0["kind"] as? String == "disconnect" && $0["category"] as? String == "restart_required" })
            #expect(all.json["next_cursor"] == nil)

            var seen: [[String: any Sendable]] = []
            var cursor: String?
            repeat {
                let page = try await h.request(.GET, path + "?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), host: h.acme.host, token: h.acme.token)
                #expect(page.status == 200)
                let items = try #require(page.json["entries"] as? [[String: any Sendable]])
                #expect(items.count <= 2)
                seen += items
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(seen.map { "\($0["kind"] ?? "")\($0["at"] ?? "")\($0["to"] ?? "")" } == entries.map { "\($0["kind"] ?? "")\($0["at"] ?? "")\($0["to"] ?? "")" })

            #expect(try await h.request(.GET, path + "?cursor=garbage!", host: h.acme.host, token: h.acme.token).status == 400)
            #expect(try await h.request(.GET, path + "?limit=0", host: h.acme.host, token: h.acme.token).status == 422)
            let foreign = try await h.request(.GET, path, host: h.beta.host, token: h.beta.token)
            #expect(foreign.status == 404)
            #expect(foreign.json["code"] as? String == "device_not_found")
            #expect(try await h.request(.GET, "/devices/\(UUID().uuidString)/history", host: h.acme.host, token: h.acme.token).status == 404)
        }
    }

    @Test func resetIsIdempotentAndBoundToTheTenant() async throws {
        try await APIHarness.run { h in
            let deviceID = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            let id = deviceID.uuidString.lowercased()
            let foreign = try await h.request(.POST, "/reset", host: h.beta.host, token: h.beta.token, json: #"{"device_id":"\#(id)","mode":"logout"}"#)
            #expect(foreign.status == 404)
            #expect(try await h.store.device(deviceID)?.state == .online)

            let logout = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"device_id":"\#(id)","mode":"logout"}"#)
            #expect(logout.status == 200)
            let result = try #require((logout.json["results"] as? [[String: any Sendable]])?.first)
            #expect(result["result"] as? String == "applied")
            #expect(result["state"] as? String == "logged_out")
            let again = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"device_id":"\#(id)","mode":"logout"}"#)
            #expect((again.json["results"] as? [[String: any Sendable]])?.first?["result"] as? String == "unchanged")

            let neither = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"mode":"soft"}"#)
            #expect(neither.status == 422)
            let all = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"all":true,"mode":"soft"}"#)
            #expect(all.status == 200)
            #expect((all.json["results"] as? [Any])?.count == 1)
        }
    }

    @Test func aResetOfADeviceRunByAnotherInstanceIsRoutedToItsOwner() async throws {
        try await APIHarness.run(instances: ["a", "b"]) { h in
            let deviceID = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net", node: 0)
            #expect(h.nodes[0].supervisor.ownedDevices.contains(deviceID))
            let reply = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token,
                                            json: #"{"device_id":"\#(deviceID.uuidString)","mode":"logout"}"#, node: 1)
            #expect(reply.status == 200)
            let result = try #require((reply.json["results"] as? [[String: any Sendable]])?.first)
            #expect(result["result"] as? String == "applied")
            #expect(result["state"] as? String == "logged_out")
            try await eventually("logged out in the database") { try await h.store.device(deviceID)?.state.kind == .loggedOut }
        }
    }

    @Test func disablingATenantStopsItsDevicesWhereverTheyRunAndEnablingBringsThemBack() async throws {
        try await APIHarness.run(instances: ["a", "b"]) { h in
            let deviceID = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net", node: 0)
            let other = try await h.onlineDevice(h.beta, jid: "15557654321:2@s.whatsapp.net", node: 0)
            #expect(try await h.admin(.POST, "/admin/tenants/\(h.acme.id.uuidString)/disable", node: 1).status == 200)
            try await eventually("the device stopped and released its lease") {
                let record = try await h.store.device(deviceID)
                return record?.state == .paired && record?.leaseOwner == nil
            }
            try await eventually("instance a no longer runs it") { !h.nodes[0].supervisor.ownedDevices.contains(deviceID) }
            #expect(try await h.store.device(other)?.state == .online)

            #expect(try await h.admin(.POST, "/admin/tenants/\(h.acme.id.uuidString)/enable", node: 1).status == 200)
            // Either instance may claim it on its next look for free devices.
            var a = h.nodes[0].upstream.sessions.makeAsyncIterator()
            var b = h.nodes[1].upstream.sessions.makeAsyncIterator()
            h.clock.advance(by: .seconds(10))
            try await eventually("claimed again") {
                h.nodes[0].supervisor.ownedDevices.contains(deviceID) || h.nodes[1].supervisor.ownedDevices.contains(deviceID)
            }
            let owner = h.nodes[0].supervisor.ownedDevices.contains(deviceID) ? 0 : 1
            let login = try #require(owner == 0 ? await a.next() : await b.next())
            #expect(login.intent == .login)
        }
    }

    @Test func cancellingAPairingRunByAnotherInstanceIsRoutedToo() async throws {
        try await APIHarness.run(instances: ["a", "b"]) { h in
            let (reply, _) = try await h.startQRPairing(h.acme, node: 0)
            let deviceID = try #require(reply.json["device_id"] as? String)
            let reset = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token,
                                            json: #"{"device_id":"\#(deviceID)","mode":"soft"}"#, node: 1)
            #expect(reset.status == 200)
            #expect((reset.json["results"] as? [[String: any Sendable]])?.first?["state"] as? String == "unpaired")
            let pairingID = try #require((reply.json["pairing_id"] as? String).flatMap(UUID.init(uuidString:)))
            try await eventually("the pairing was cancelled") { try await h.store.pairing(pairingID)?.outcome == .cancelled }
        }
    }
}
