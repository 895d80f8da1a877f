import DevicePool
import Foundation
import PairgateTestSupport
import PostgresStore
import Testing
import WAClient

extension APIHarness {
    /// Pairs a device for `tenant` through the API and brings it online; returns its id.
    func onlineDevice(_ tenant: TenantFixture, jid: String, node: Int = 0) async throws -> UUID {
        try await connectedDevice(tenant, jid: jid, node: node).id
    }

    /// Pairs a device and brings it online; returns its id and its online connection.
    func connectedDevice(_ tenant: TenantFixture, jid: String, node: Int = 0) async throws -> (id: UUID, session: ScriptedSession) {
        let (reply, pairing) = try await startQRPairing(tenant, node: node)
        let deviceID = try #require((reply.json["device_id"] as? String).flatMap(UUID.init(uuidString:)))
        var sessions = nodes[node].upstream.sessions.makeAsyncIterator()
        let count = nodes[node].upstream.sessionCount
        await pairing.pairSuccess(jid: jid)
        pairing.emit(.disconnected(DisconnectReason(stage: .stream, category: .restartRequired, code: 515, detail: "restart")))
        try await waitForSession(node: node, beyond: count)
        let login = try #require(await sessions.next())
        login.emit(.online(OnlineInfo(jid: jid, lid: nil, serverTimeOffset: .zero)))
        try await eventually("online") { try await store.device(deviceID)?.state == .online }
        return (deviceID, login)
    }

    /// Waits (bounded) until instance `node` opened more than `count` upstream connections, so
    /// that taking the next one off its stream cannot hang when none comes.
    func waitForSession(node: Int, beyond count: Int) async throws {
        try await eventually("an upstream connection on instance \(nodes[node].name)") { nodes[node].upstream.sessionCount > count }
    }
}
