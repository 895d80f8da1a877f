import Foundation
import PairgateTestSupport
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// UpstreamClient against the simulator over real loopback sockets: pairing, restart, login, keepalive.
@Suite("Integration: client and simulator over loopback", .timeLimit(.minutes(1)))
struct IntegrationFlowTests {
    @Test func qrPairingThenRestartAndLoginBringTheDeviceOnline() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let pairing = EventLog(client.connect(credentials: .generate(), intent: .pair(.qr)))
            let qr = try #require(await pairing.nextQR())
            #expect(qr.hasPrefix("https://wa.me/settings/linked_devices#") || qr.contains(","))
            try sim.world.scan(qr, phoneNumber: account.phoneNumber)
            let credentials = try #require(await pairing.acceptPairSuccess())
            let restart = try #require(await pairing.ending())
            #expect(pairing.names == ["qr", "pairSuccess", "paired", "disconnected"])
            #expect(restart.category == .restartRequired)
            #expect(restart.code == 515)
            #expect(credentials.account?.jid == "\(account.phoneNumber):1@s.whatsapp.net")

            let login = EventLog(client.connect(credentials: credentials, intent: .login))
            let online = try #require(await login.online())
            #expect(online.jid == credentials.account?.jid)
            #expect(login.names.contains("credentialsUpdated"))
            await login.connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "test over"))
            let ending = try #require(await login.ending())
            #expect(ending.category == .shutdown)
            #expect(sim.world.violations.isEmpty)
            #expect(sim.world.maximumConcurrentLogins == 1)
        }
    }

    @Test func codePairingLinksTheDevice() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let pairing = EventLog(client.connect(credentials: .generate(), intent: .pair(.code(phoneNumber: account.phoneNumber))))
            let code = try #require(await pairing.nextPairingCode())
            try sim.world.enterCode(code, phoneNumber: account.phoneNumber)
            let credentials = try #require(await pairing.acceptPairSuccess())
            #expect(await pairing.ending()?.category == .restartRequired)
            let login = EventLog(client.connect(credentials: credentials, intent: .login))
            #expect(await login.online() != nil)
            await login.connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "test over"))
            #expect(sim.world.violations.isEmpty)
        }
    }

    @Test func qrCodesRotateOnTheConfiguredLifetimesUntilTheRefsRunOut() async throws {
        try await LoopbackSimulator.with(configure: { server in
            server.firstRefLifetime = .milliseconds(300)
            server.laterRefLifetime = .milliseconds(100)
            server.refCount = 3
            server.refExhaustionGrace = .milliseconds(500)
        }) { sim in
            let client = try sim.client { configuration in
                configuration.session.timeouts.firstQR = .milliseconds(300)
                configuration.session.timeouts.laterQR = .milliseconds(100)
            }
            let pairing = EventLog(client.connect(credentials: .generate(), intent: .pair(.qr)))
            let ending = try #require(await pairing.ending())
            #expect(pairing.names == ["qr", "qr", "qr", "disconnected"])
            #expect(ending.category == .pairingTimeout)
        }
    }

    @Test func rejectingPairSuccessEndsThePairingWithoutLinking() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let pairing = EventLog(client.connect(credentials: .generate(), intent: .pair(.qr)))
            try sim.world.scan(try #require(await pairing.nextQR()), phoneNumber: account.phoneNumber)
            let confirmation = try #require(await pairing.first { event -> PairingConfirmation? in
                if case .pairSuccess(_, let confirmation) = event { confirmation } else { nil }
            })
            confirmation.reject(CancellationError())
            let ending = try #require(await pairing.ending())
            #expect(ending.category == .pairingFailed)
        }
    }

    @Test func keepaliveIsLostRestoredAndFinallyEndsTheConnection() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client { configuration in
                configuration.session.keepalive.minimumInterval = .milliseconds(50)
                configuration.session.keepalive.maximumInterval = .milliseconds(80)
                configuration.session.keepalive.responseDeadline = .milliseconds(300)
                // Long enough for the restore to land on a loaded machine; the end still comes by itself.
                configuration.session.keepalive.maximumFailureTime = .seconds(6)
                // Deriving 812 prekeys holds the event loop long enough in debug builds to miss pings.
                configuration.session.preKeys.initialUpload = 20
            }
            let credentials = try await sim.pairedCredentials(client, account: account)
            let login = EventLog(client.connect(credentials: credentials, intent: .login))
            #expect(await login.online() != nil)
            let id = try sim.connectionID(of: credentials)
            sim.world.deliver(.fault(.keepalive(.ignore)), to: id)
            let lost = try #require(await login.first { event -> Int? in
                if case .keepaliveLost(let failures, _) = event { failures } else { nil }
            })
            #expect(lost == 1)

            sim.world.deliver(.fault(.keepalive(.answer)), to: id)
            #expect(await login.first { if case .keepaliveRestored = $0 { true } else { nil } } == true)

            sim.world.deliver(.fault(.keepalive(.ignore)), to: id)
            let ending = try #require(await login.ending())
            #expect(ending.stage == .keepalive)
            #expect(ending.category == .keepaliveLost)
            #expect(login.names.filter { $0 == "keepaliveLost" }.count >= 2)
        }
    }

    @Test func logoutRemovesTheCompanion() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let credentials = try await sim.pairedCredentials(client, account: account)
            let login = EventLog(client.connect(credentials: credentials, intent: .login))
            #expect(await login.online() != nil)
            try await login.connection.logout()
            let ending = try #require(await login.ending())
            #expect(login.names.last == "loggedOut")
            #expect(ending.category == .loggedOut)
            #expect(sim.world.devices.isEmpty)
        }
    }

    @Test func logoutBeforeTheSessionRunsIsRefused() async throws {
        try await LoopbackSimulator.with { sim in
            try await sim.server.setRefusingConnections(true)
            let (connection, _) = try sim.client().connect(credentials: .generate(), intent: .login)
            await #expect(throws: ClientRequestError.self) { try await connection.logout() }
        }
    }

    @Test func pairingThroughTLSAndBothProxies() async throws {
        try await LoopbackSimulator.with(tls: true) { sim in
            let account = sim.addAccount()
            for kind in [TestProxy.Kind.httpConnect, .socks5] {
                let proxy = TestProxy(kind: kind, username: "device", password: "pa55", group: sim.group)
                try await proxy.start()
                let client = try sim.client()
                let configuration = try #require(ProxyConfiguration(url: proxy.url()))
                let pairing = EventLog(client.connect(credentials: .generate(), intent: .pair(.qr), proxy: configuration))
                try sim.world.scan(try #require(await pairing.nextQR()), phoneNumber: account.phoneNumber)
                let credentials = try #require(await pairing.acceptPairSuccess())
                #expect(await pairing.ending()?.category == .restartRequired)
                let login = EventLog(client.connect(credentials: credentials, intent: .login, proxy: configuration))
                #expect(await login.online() != nil)
                await login.connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "test over"))
                #expect(proxy.counts.tunnels == 2)
                await proxy.stop()
            }
            #expect(sim.world.violations.isEmpty)
        }
    }

    @Test func closingWhileConnectingReportsTheLocalReason() async throws {
        try await LoopbackSimulator.with { sim in
            let events = EventLog(try sim.client().connect(credentials: .generate(), intent: .pair(.qr)))
            await events.connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "reset"))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .local)
            #expect(ending.category == .shutdown)
        }
    }
}
