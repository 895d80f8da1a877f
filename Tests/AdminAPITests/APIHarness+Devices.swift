import DevicePool
import Foundation
import PairgateTestSupport
import PostgresStore
import Testing
import WAClient

extension APIHarness {
    /// Pairs a device for `tenant` through the API and brings it online; returns its id and the
    /// upstream session it is online on.
    func onlineDevice(_ tenant: TenantFixture, jid: String, node: Int = 0) async throws -> (UUID, ScriptedSession) {
        let (reply, pairing) = try await startQRPairing(tenant, node: node)
        let deviceID = try #require((reply.json["device_id"] as? String).flatMap(UUID.init(uuidString:)))
        var sessions = nodes[node].upstream.sessions.makeAsyncIterator()
        await pairing.pairSuccess(jid: jid)
        pairing.emit(.disconnected(DisconnectReason(stage: .stream, category: .restartRequired, code: 515, detail: "restart")))
        let login = try #require(await sessions.next())
        login.emit(.online(OnlineInfo(jid: jid, lid: nil, serverTimeOffset: .zero)))
        try await eventually("online") { try await store.device(deviceID)?.state == .online }
        return (deviceID, login)
    }
}
