import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import MetricsTestKit
import NIOSSL
import PairgateTestSupport
import Synchronization
import Testing
import WASim
import Webhooks
import WAWire

/// The delivery client against real HTTP receivers on 127.0.0.1 (allowPrivate on), and its
/// refusals with allowPrivate off. Nothing here connects anywhere but the loopback interface:
/// the refused addresses are refused before any connection.
@Suite struct DeliveryClientTests {
    static let secret = try! WebhookSecret(parsing: "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString())

    /// A client over `configure`d settings (allowPrivate on unless changed), shut down afterwards.
    static func withClient(
        resolver: HostResolver = .system,
        metrics: TestMetrics = TestMetrics(),
        _ configure: (inout DeliveryClient.Configuration) -> Void = { _ in },
        _ body: (DeliveryClient) async throws -> Void
    ) async throws {
        var configuration = DeliveryClient.Configuration()
        configuration.addressPolicy = AddressPolicy(allowPrivate: true)
        configuration.responseTimeout = .seconds(20)
        configure(&configuration)
        let client = DeliveryClient(
            configuration: configuration, resolver: resolver, metrics: WebhookMetrics(factory: metrics), logger: Logger(label: "webhooks-test")
        )
        do {
            try await body(client)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    /// A signed request for a sample event to `url` (validated with private addresses allowed).
    static func request(_ url: String, endpoint: String = "endpoint-1", event: Int = 0) throws -> DeliveryClient.Request {
        let event = CatalogueSamples.all[event]
        let body = try event.jsonBody()
        let headers = WebhookSigner.sign(id: event.id.description, timestamp: Date(), body: body, secrets: [secret])
        return .init(endpointID: endpoint, url: try WebhookURL(validating: url, policy: AddressPolicy(allowPrivate: true)), headers: headers, body: body)
    }

    @Test func aSignedEventReachesTheReceiverAndVerifies() async throws {
        try await TestReceiver.with(reply: { _, _ in .status(204) }) { receiver in
            let metrics = TestMetrics()
            try await Self.withClient(metrics: metrics) { client in
                let request = try Self.request("http://127.0.0.1:\(receiver.port)/hooks/in?token=t1")
                let attempt = try await client.deliver(request)
                #expect(attempt.result == .response(status: 204, retryAfter: nil))
                #expect(attempt.isSuccess)
                #expect(attempt.address == IPAddress("127.0.0.1"))
                let received = try #require(receiver.received.first)
                #expect(received.method == "POST")
                #expect(received.uri == "/hooks/in?token=t1")
                #expect(received.header("content-type") == "application/json")
                #expect(received.header("user-agent") == "Pairgate-Webhooks/1")
                #expect(received.header("webhook-id") == CatalogueSamples.all[0].id.description)
                #expect(received.body == request.body)
                let headers = Dictionary(uniqueKeysWithValues: received.headers.map { ($0.name, $0.value) })
                try WebhookVerifier(secrets: [Self.secret]).verify(body: received.body, headers: headers, now: Date())
                #expect(try metrics.expectCounter(WebhookMetrics.attemptsName, [("result", "success")]).values == [1])
                #expect(try metrics.expectTimer(WebhookMetrics.attemptDurationName, [("result", "success")]).values.count == 1)
            }
        }
    }

    @Test func failingAndFlappingReceiversGetRetriedByThePolicy() async throws {
        // Fails, recovers, fails again: 500 with a body, then 200, alternately.
        try await TestReceiver.with(reply: { index, _ in index % 2 == 0 ? .status(500, body: Array("boom".utf8)) : .status(200) }) { receiver in
            try await Self.withClient { client in
                let policy = DeliveryPolicy()
                var random = SeededRandom(seed: 1)
                let start = Date()
                var decisions: [DeliveryPolicy.Decision] = []
                for attempt in 1...4 {
                    let result = try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/"))
                    if attempt % 2 == 1 {
                        #expect(result.result == .response(status: 500, retryAfter: nil))
                        #expect(result.responseBody == Array("boom".utf8))
                        #expect(!result.responseTruncated)
                        #expect(result.summary == "http_500")
                    }
                    decisions.append(policy.decide(result.result, attempt: attempt, firstAttemptAt: start, now: Date(), random: &random))
                }
                #expect(decisions[1] == .delivered && decisions[3] == .delivered)
                for index in [0, 2] {
                    guard case .retry = decisions[index] else { Issue.record("attempt \(index + 1): \(decisions[index])"); continue }
                }
                #expect(receiver.received.count == 4)
            }
        }
    }

    @Test func retryAfterAndGoneAreReadFromTheAnswer() async throws {
        try await TestReceiver.with(reply: { _, request in
            switch request.uri {
            case "/busy": .status(503, headers: [("Retry-After", "7")])
            case "/later": .status(429, headers: [("Retry-After", "Sun, 06 Nov 2044 08:49:37 GMT")])
            default: .status(410)
            }
        }) { receiver in
            try await Self.withClient { client in
                let busy = try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/busy"))
                #expect(busy.result == .response(status: 503, retryAfter: .seconds(7)))
                let later = try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/later"))
                #expect(later.result == .response(status: 429, retryAfter: .date(Date(timeIntervalSince1970: 2_362_034_977))))
                let gone = try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/gone"))
                var random = SeededRandom(seed: 1)
                #expect(DeliveryPolicy().decide(gone.result, attempt: 1, firstAttemptAt: Date(), now: Date(), random: &random) == .disableEndpoint)
            }
        }
    }

    @Test func redirectsAreAnswersAndAreNotFollowed() async throws {
        try await TestReceiver.with(reply: { _, request in
            request.uri == "/moved" ? .status(307, headers: [("Location", "/elsewhere")]) : .status(200)
        }) { receiver in
            try await Self.withClient { client in
                let attempt = try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/moved"))
                #expect(attempt.result == .response(status: 307, retryAfter: nil))
                #expect(!attempt.isSuccess)
                #expect(receiver.received.map(\.uri) == ["/moved"])
            }
        }
    }

    @Test func aReceiverThatNeverAnswersTimesOut() async throws {
        try await TestReceiver.with(reply: { _, _ in .hang }) { receiver in
            try await Self.withClient({ $0.responseTimeout = .milliseconds(500) }) { client in
                let attempt = try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/"))
                #expect(attempt.result == .timeout)
                #expect(attempt.duration >= .milliseconds(500))
                #expect(receiver.received.count == 1)
            }
        }
    }

    @Test func aHugeBodyIsReadOnlyUpToTheCapThenTheConnectionCloses() async throws {
        try await TestReceiver.with(reply: { _, _ in .endlessBody }) { receiver in
            try await Self.withClient({ $0.maximumResponseBodyBytes = 1000 }) { client in
                let attempt = try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/"))
                #expect(attempt.result == .response(status: 200, retryAfter: nil))
                #expect(attempt.responseBody.count == 1000)
                #expect(attempt.responseTruncated)
                try await eventually("the capped connection closes", limit: .seconds(30)) { receiver.closedConnections == 1 }
            }
        }
    }

    @Test func aRefusedConnectionIsANetworkError() async throws {
        let (descriptor, port) = try PortReservation.reserve()
        defer { close(descriptor) }
        // A refusal comes at once; the long bounds keep a starved machine (the whole suite runs
        // at once on two cores) from turning it into a timeout: the classification is what is
        // checked here, not the time.
        try await Self.withClient({ $0.connectTimeout = .seconds(600); $0.responseTimeout = .seconds(600) }) { client in
            let attempt = try await client.deliver(try Self.request("http://127.0.0.1:\(port)/"))
            guard case .networkError(let detail) = attempt.result else {
                Issue.record("\(attempt.result)")
                return
            }
            #expect(detail.hasPrefix("connect:"), "\(detail)")
            #expect(attempt.summary == "network_error")
        }
    }

    @Test func eachEndpointHasAConcurrencyLimitAndOthersAreNotBlocked() async throws {
        try await TestReceiver.with(reply: { _, request in request.uri == "/slow" ? .held(200) : .status(200) }) { receiver in
            // Held replies outlast a busy machine's scheduling: the response deadline is not what is tested.
            try await Self.withClient({ $0.maximumConcurrentPerEndpoint = 2; $0.responseTimeout = .seconds(300) }) { client in
                try await withThrowingTaskGroup(of: DeliveryAttempt.self) { group in
                    for _ in 0..<5 {
                        group.addTask { try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/slow", endpoint: "slow")) }
                    }
                    try await eventually("two in flight, three waiting", limit: .seconds(30)) {
                        receiver.inFlight == 2 && client.load(endpointID: "slow") == (inFlight: 2, waiting: 3)
                    }
                    // Another endpoint on the same receiver goes through meanwhile.
                    let other = try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/fast", endpoint: "fast"))
                    #expect(other.isSuccess)
                    #expect(client.load(endpointID: "slow") == (inFlight: 2, waiting: 3))
                    receiver.releaseHeld()
                    var delivered = 0
                    for try await attempt in group where attempt.isSuccess { delivered += 1 }
                    #expect(delivered == 5)
                }
                #expect(client.load(endpointID: "slow") == (inFlight: 0, waiting: 0))
                #expect(receiver.maximumInFlight <= 3)
            }
        }
    }

    @Test func aCancelledWaiterLeavesTheQueueWithoutASlot() async throws {
        try await TestReceiver.with(reply: { _, _ in .held(200) }) { receiver in
            // Held replies outlast a busy machine's scheduling: the response deadline is not what is tested.
            try await Self.withClient({ $0.maximumConcurrentPerEndpoint = 1; $0.responseTimeout = .seconds(300) }) { client in
                let request = try Self.request("http://127.0.0.1:\(receiver.port)/")
                async let first = client.deliver(request)
                try await eventually("one in flight", limit: .seconds(30)) { client.load(endpointID: request.endpointID).inFlight == 1 && receiver.inFlight == 1 }
                let waiter = Task { try await client.deliver(request) }
                try await eventually("one waiting", limit: .seconds(30)) { client.load(endpointID: request.endpointID).waiting == 1 }
                waiter.cancel()
                await #expect(throws: CancellationError.self) { try await waiter.value }
                #expect(client.load(endpointID: request.endpointID) == (inFlight: 1, waiting: 0))
                receiver.releaseHeld()
                #expect(try await first.isSuccess)
                #expect(client.load(endpointID: request.endpointID) == (inFlight: 0, waiting: 0))
                #expect(receiver.received.count == 1)
            }
        }
    }

    @Test func aShutDownClientDeliversNothing() async throws {
        try await TestReceiver.with(reply: { _, _ in .status(200) }) { receiver in
            try await Self.withClient { client in
                let attempt = try await client.deliver(try Self.request("http://127.0.0.1:\(receiver.port)/"))
                #expect(attempt.isSuccess, "\(attempt)")
                await client.shutdown()
                let request = try Self.request("http://127.0.0.1:\(receiver.port)/")
                await #expect(throws: CancellationError.self) { try await client.deliver(request) }
                #expect(receiver.received.count == 1)
            }
        }
    }

    // MARK: Addresses

    /// Literal private addresses (a URL registered where they were allowed) and names that
    /// resolve inside are refused at delivery. Metadata addresses never pass registration, so
    /// they can only arrive through DNS.
    @Test func privateAndMetadataAddressesAreRefusedBeforeConnecting() async throws {
        let resolver = HostResolver { host in
            switch host {
            case "metadata.invalid": [IPAddress("169.254.169.254")!]
            case "inside.invalid": [IPAddress("10.20.30.40")!]
            default: try await HostResolver.system.addresses(of: host)
            }
        }
        try await TestReceiver.with(reply: { _, _ in .status(200) }) { receiver in
            let metrics = TestMetrics()
            try await Self.withClient(resolver: resolver, metrics: metrics, { $0.addressPolicy = AddressPolicy(allowPrivate: false) }) { client in
                let cases: [(String, AddressPolicy.Category)] = [
                    ("http://127.0.0.1:\(receiver.port)/", .loopback),
                    ("http://[::1]:\(receiver.port)/", .loopback),
                    ("http://localhost:\(receiver.port)/", .loopback),
                    ("http://10.20.30.40/", .private),
                    ("http://inside.invalid/", .private),
                    ("http://metadata.invalid/latest/meta-data/", .metadata),
                ]
                for (url, category) in cases {
                    let attempt = try await client.deliver(try Self.request(url))
                    guard case .refused(let error) = attempt.result else {
                        Issue.record("\(url) was not refused: \(attempt.result)")
                        continue
                    }
                    #expect(error.code == .privateAddress, "\(url)")
                    #expect(error.category == category, "\(url)")
                    #expect(attempt.summary == "private_address")
                }
                #expect(receiver.received.isEmpty)
                #expect(try metrics.expectCounter(WebhookMetrics.attemptsName, [("result", "refused")]).values.count == cases.count)
            }
        }
    }

    @Test func metadataStaysRefusedWithAllowPrivate() async throws {
        let resolver = HostResolver { _ in [IPAddress("fd00:ec2::254")!] }
        try await Self.withClient(resolver: resolver) { client in
            let attempt = try await client.deliver(try Self.request("http://instance-data.invalid/"))
            guard case .refused(let error) = attempt.result else { Issue.record("\(attempt.result)"); return }
            #expect(error.category == .metadata)
        }
    }

    /// The name is resolved once per attempt by our resolver and the connection goes to that
    /// address: `.invalid` never resolves in DNS (RFC 6761), so a second lookup by the HTTP
    /// client would fail. A name that moves to a refused address is refused at the next attempt.
    @Test func connectionsArePinnedToTheAddressThatWasChecked() async throws {
        try await TestReceiver.with(reply: { _, _ in .status(200) }) { receiver in
            let lookups = Mutex(0)
            let resolver = HostResolver { host in
                let count = lookups.withLock { count in
                    count += 1
                    return count
                }
                guard host == "receiver.invalid" else { throw HostResolver.ResolutionError(description: "dns: unknown") }
                // The third lookup "rebinds" the name to the metadata service.
                return [IPAddress(count < 3 ? "127.0.0.1" : "169.254.169.254")!]
            }
            try await Self.withClient(resolver: resolver) { client in
                for _ in 0..<2 {
                    let attempt = try await client.deliver(try Self.request("http://receiver.invalid:\(receiver.port)/pinned"))
                    #expect(attempt.isSuccess, "\(attempt.result)")
                }
                #expect(receiver.received.map { $0.header("host") } == ["receiver.invalid:\(receiver.port)", "receiver.invalid:\(receiver.port)"])
                let rebound = try await client.deliver(try Self.request("http://receiver.invalid:\(receiver.port)/pinned"))
                #expect(rebound.result == .refused(WebhookURLError(.privateAddress, "the host resolves to a metadata address", category: .metadata)))
                #expect(lookups.withLock { $0 } == 3)
                #expect(receiver.received.count == 2)
                let unknown = try await client.deliver(try Self.request("http://nowhere.invalid/"))
                #expect(unknown.result == .networkError(detail: "dns: unknown"))
            }
        }
    }

    /// Over TLS the connection goes to the pinned address while SNI and certificate verification
    /// use the name: a certificate for the name passes, one for another name fails.
    @Test func tlsVerifiesTheHostNameNotThePinnedAddress() async throws {
        let certificates = try SimCertificates.generate(hosts: ["hooks.invalid"])
        let wrong = try SimCertificates.generate(hosts: ["other.invalid"])
        let resolver = HostResolver { host in
            guard host == "hooks.invalid" else { throw HostResolver.ResolutionError(description: "dns: unknown") }
            return [IPAddress("127.0.0.1")!]
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(certificates.caPEM.utf8)) + NIOSSLCertificate.fromPEMBytes(Array(wrong.caPEM.utf8)))
        try await TestReceiver.with(tls: try certificates.makeServerContext(), reply: { _, _ in .status(200) }) { receiver in
            try await TestReceiver.with(tls: try wrong.makeServerContext(), reply: { _, _ in .status(200) }) { impostor in
                try await Self.withClient(resolver: resolver, { $0.tls = tls }) { client in
                    let attempt = try await client.deliver(try Self.request("https://hooks.invalid:\(receiver.port)/secure"))
                    #expect(attempt.isSuccess, "\(attempt.result)")
                    #expect(receiver.received.first?.header("host") == "hooks.invalid:\(receiver.port)")
                    let refused = try await client.deliver(try Self.request("https://hooks.invalid:\(impostor.port)/secure"))
                    guard case .networkError(let detail) = refused.result else { Issue.record("\(refused.result)"); return }
                    #expect(detail.hasPrefix("tls:"), "\(detail)")
                    #expect(impostor.received.isEmpty)
                }
            }
        }
    }
}
