import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient

/// The WhatsApp Web version as the pool uses it: new connections announce the version in use,
/// a 405 is reported so the version can be checked at once, and a new version resumes the
/// devices suspended as outdated, paced like the boot ramp.
@Suite("Client version in the pool", .requiresDatabase, .timeLimit(.minutes(2)))
struct ClientVersionTests {
    static let old = "2.3000.1045649367"
    static let new = "2.3000.1050000000"

    @Test
    func aNewVersionResumesDevicesSuspendedAsOutdatedAtTheRamp() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a") { $0.rampPerSecond = 1 }
            let devices = (30..<33).map(deviceID)
            for (index, device) in devices.enumerated() {
                try await h.seedPairedDevice(device, jid: "1555123030\(index):2@s.whatsapp.net", sealedBy: h.sealer)
            }
            try await h.running {
                var reports = h.supervisor.outdatedVersions.makeAsyncIterator()
                var sessions = h.upstream.sessions.makeAsyncIterator()
                var logins: [ScriptedSession] = []
                try await h.advancing("every device connecting") { h.upstream.sessionCount == devices.count }
                for _ in devices { logins.append(try #require(await sessions.next())) }
                #expect(logins.allSatisfy { $0.webVersion == Self.old })
                for login in logins {
                    login.emit(.disconnected(DisconnectReason(stage: .login, category: .clientOutdated, code: 405, detail: "outdated")))
                }
                for device in devices {
                    try await eventually("suspended as outdated") { try await h.state(device) == .suspended(.clientOutdated(version: Self.old)) }
                }
                // Each 405 says which version WhatsApp refused, so that a newer one is looked for at once.
                #expect(await reports.next() == Self.old)

                h.supervisor.useClientVersion(Self.new)
                #expect(h.supervisor.clientVersion == Self.new)
                // The first resumes at once, the others one ramp interval (1 s, jittered ±50 %) apart.
                let first = try #require(await sessions.next())
                #expect(first.webVersion == Self.new)
                h.clock.advance(by: .milliseconds(490))
                #expect(h.upstream.sessionCount == devices.count + 1)
                try await h.advancing("the other two resumed") { h.upstream.sessionCount == devices.count * 2 }
                let resumed = [first, try #require(await sessions.next()), try #require(await sessions.next())]
                #expect(resumed.allSatisfy { $0.webVersion == Self.new && $0.intent == .login })
                for device in devices {
                    try await eventually("connecting with the new version") { try await h.state(device) == .connecting }
                }
            }
        }
    }
}
