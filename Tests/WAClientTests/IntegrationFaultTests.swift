import Foundation
import NIOHTTP1
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// Every fault the simulator can inject, seen from the client over loopback: the classified reason an
/// operator would read.
@Suite("Integration: faults and their classification", .timeLimit(.minutes(1)))
struct IntegrationFaultTests {
    private let shutdown = DisconnectReason(stage: .local, category: .shutdown, detail: "test over")

    @Test func refusedConnectionsFailInTheTCPStage() async throws {
        try await LoopbackSimulator.with { sim in
            try await sim.server.setRefusingConnections(true)
            let events = EventLog(try sim.client().connect(credentials: .generate(), intent: .pair(.qr)))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .tcp)
            #expect(ending.category == .network)
        }
    }

    @Test func aDropMidHandshakeFailsInTheNoiseStage() async throws {
        try await LoopbackSimulator.with { sim in
            sim.setFaults(SimConnectionFaults(dropMidHandshake: true))
            let events = EventLog(try sim.client().connect(credentials: .generate(), intent: .pair(.qr)))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .noise)
            #expect(ending.category == .network)
        }
    }

    @Test func aServerHelloLaterThanTheHandshakeTimeoutIsATimeout() async throws {
        try await LoopbackSimulator.with { sim in
            sim.setFaults(SimConnectionFaults(handshakeDelay: .seconds(5)))
            let client = try sim.client { $0.session.timeouts.handshake = .milliseconds(200) }
            let events = EventLog(client.connect(credentials: .generate(), intent: .pair(.qr)))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .noise)
            #expect(ending.category == .timeout)
        }
    }

    @Test func aRefusedUpgradeNamesTheStatus() async throws {
        try await LoopbackSimulator.with { sim in
            sim.setUpgrade(.refuse(.serviceUnavailable))
            let events = EventLog(try sim.client().connect(credentials: .generate(), intent: .pair(.qr)))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .websocket)
            #expect(ending.code == 503)
            #expect(ending.category == .serverError)
        }
    }

    @Test func aWrongCertificateAuthorityFailsInTheTLSStage() async throws {
        try await LoopbackSimulator.with(tls: true) { sim in
            let stranger = try SimCertificates.generate()
            let client = try sim.client { $0.tls = try? ClientTLS(trustRoots: .pem(Array(stranger.caPEM.utf8))) }
            let events = EventLog(client.connect(credentials: .generate(), intent: .pair(.qr)))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .tls)
            #expect(ending.category == .certificateRejected)
        }
    }

    @Test func anUntrustedNoiseRootFailsInTheCertificateStage() async throws {
        try await LoopbackSimulator.with { sim in
            let client = try sim.client { $0.trustedRootKey = CertificateChain.whatsAppRootKey }
            let events = EventLog(client.connect(credentials: .generate(), intent: .pair(.qr)))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .certificate)
            #expect(ending.category == .certificateRejected)
        }
    }

    @Test func anUnresolvableUpstreamFailsInTheDNSStage() async throws {
        try await LoopbackSimulator.with { sim in
            let client = try sim.client { $0.upstreamURL = "ws://pairgate-test.invalid/ws/chat" }
            let events = EventLog(client.connect(credentials: .generate(), intent: .pair(.qr)))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .dns)
        }
    }

    @Test func failure405IsClientOutdatedNamingTheVersion() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let credentials = try await sim.pairedCredentials(client, account: account)
            sim.setFaults(SimConnectionFaults(loginFailure: 405))
            let events = EventLog(client.connect(credentials: credentials, intent: .login))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .login)
            #expect(ending.category == .clientOutdated)
            #expect(ending.code == 405)
            #expect(ending.detail.contains(client.configuration.webVersion.description))
        }
    }

    @Test func connectionsAnnounceTheVersionInUseFromTheirStart() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let credentials = try await sim.pairedCredentials(client, account: account)
            let newer = try #require(WebClientVersion("2.3000.1050000000"))
            client.useWebVersion(newer)
            #expect(client.webVersion == newer)
            sim.setFaults(SimConnectionFaults(loginFailure: 405))
            let events = EventLog(client.connect(credentials: credentials, intent: .login))
            let ending = try #require(await events.ending())
            #expect(ending.category == .clientOutdated)
            #expect(ending.detail.contains("2.3000.1050000000"))
        }
    }

    @Test(arguments: [
        (SimStreamError.restartRequired, DisconnectReason.Category.restartRequired, 515),
        (.serviceUnavailable, .serverError, 503),
        (.replaced, .replaced, nil),
        (.deviceRemoved, .loggedOut, 401),
    ] as [(SimStreamError, DisconnectReason.Category, Int?)])
    func streamErrorsWhileOnlineAreClassified(error: SimStreamError, category: DisconnectReason.Category, code: Int?) async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let credentials = try await sim.pairedCredentials(client, account: account)
            let events = EventLog(client.connect(credentials: credentials, intent: .login))
            #expect(await events.online() != nil)
            sim.world.deliver(.fault(.streamError(error)), to: try sim.connectionID(of: credentials))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .stream)
            #expect(ending.category == category)
            #expect(ending.code == code)
            #expect(events.names.last == (category == .loggedOut ? "loggedOut" : "disconnected"))
        }
    }

    @Test func unlinkingOnThePhoneLogsTheDeviceOut() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let credentials = try await sim.pairedCredentials(client, account: account)
            let events = EventLog(client.connect(credentials: credentials, intent: .login))
            #expect(await events.online() != nil)
            let jid = try #require(credentials.account.flatMap { JID(parsing: $0.jid) })
            #expect(sim.world.unlink(jid))
            let ending = try #require(await events.ending())
            #expect(events.names.last == "loggedOut")
            #expect(ending.category == .loggedOut)

            let again = EventLog(client.connect(credentials: credentials, intent: .login))
            #expect(await again.ending()?.category == .loggedOut)
        }
    }

    @Test func aSecondLoginReplacesTheFirstConnection() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let credentials = try await sim.pairedCredentials(client, account: account)
            let first = EventLog(client.connect(credentials: credentials, intent: .login))
            #expect(await first.online() != nil)
            let second = EventLog(client.connect(credentials: credentials, intent: .login))
            #expect(await second.online() != nil)
            let ending = try #require(await first.ending())
            #expect(ending.category == .replaced)
            await second.connection.close(reason: shutdown)
            #expect(sim.world.maximumConcurrentLogins == 2)
        }
    }

    @Test func aSilentDropWhileOnlineIsAStreamNetworkFailure() async throws {
        try await LoopbackSimulator.with { sim in
            let account = sim.addAccount()
            let client = try sim.client()
            let credentials = try await sim.pairedCredentials(client, account: account)
            let events = EventLog(client.connect(credentials: credentials, intent: .login))
            #expect(await events.online() != nil)
            sim.world.deliver(.fault(.drop), to: try sim.connectionID(of: credentials))
            let ending = try #require(await events.ending())
            #expect(ending.stage == .stream)
            #expect(ending.category == .network)
        }
    }
}
