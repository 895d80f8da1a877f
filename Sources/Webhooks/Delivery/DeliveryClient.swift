import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Sends one signed webhook per call over real HTTP (AsyncHTTPClient), with the safety rules of
/// docs/webhooks.md: the host is resolved and every address checked at each attempt, the
/// connection is pinned to the checked address, redirects are answers and never followed, the
/// response body is read up to a cap, each attempt has a deadline, and each endpoint has a limit
/// of attempts in flight.
public final class DeliveryClient: Sendable {
    /// Timeouts, limits and the address policy (`webhooks.*` in the configuration).
    public struct Configuration: Sendable {
        /// TCP and TLS connection set-up.
        public var connectTimeout: Duration = .seconds(5)
        /// The whole attempt: DNS, connection, request, response head and the capped body. The
        /// Standard Webhooks guidance is 15 to 30 s.
        public var responseTimeout: Duration = .seconds(15)
        /// Response bytes read (and kept for the deliveries log); the rest is never read.
        public var maximumResponseBodyBytes = 4096
        /// Attempts in flight per endpoint; more wait in order.
        public var maximumConcurrentPerEndpoint = 4
        public var addressPolicy = AddressPolicy()
        public var userAgent = "Pairgate-Webhooks/1"
        /// Trust roots and TLS settings; tests add their own CA.
        public var tls: TLSConfiguration = .makeClientConfiguration()
        /// A host's client (and its idle connections) is dropped after this long unused.
        public var idleClientLifetime: Duration = .seconds(300)

        public init() {}
    }

    /// One request: where, the signed headers, and the stored body.
    public struct Request: Sendable {
        /// The endpoint the concurrency limit applies to.
        public var endpointID: String
        public var url: WebhookURL
        public var headers: WebhookHeaders
        public var body: [UInt8]

        public init(endpointID: String, url: WebhookURL, headers: WebhookHeaders, body: [UInt8]) {
            self.endpointID = endpointID
            self.url = url
            self.headers = headers
            self.body = body
        }
    }

    public let configuration: Configuration
    private let resolver: HostResolver
    private let limiter: EndpointLimiter
    private let clients: PinnedClients
    private let metrics: WebhookMetrics

    public init(
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        resolver: HostResolver = .system,
        metrics: WebhookMetrics = WebhookMetrics(),
        logger: Logger
    ) {
        self.configuration = configuration
        self.resolver = resolver
        self.metrics = metrics
        self.limiter = EndpointLimiter(limit: configuration.maximumConcurrentPerEndpoint)
        var client = HTTPClient.Configuration(
            tlsConfiguration: configuration.tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(configuration.connectTimeout.nanoseconds), read: .nanoseconds(configuration.responseTimeout.nanoseconds)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maximumConcurrentPerEndpoint),
            proxy: nil,
            decompression: .disabled
        )
        // One request per connection at a time keeps the per-endpoint limit and the body cap's
        // "close the connection" behaviour the same for every receiver.
        client.httpVersion = .http1Only
        // A refused or failed connection ends the attempt at once; the policy decides when to
        // try again (AsyncHTTPClient would otherwise retry until the connect timeout).
        client.connectionPool.retryConnectionEstablishment = false
        self.clients = PinnedClients(configuration: client, eventLoopGroup: eventLoopGroup, idleLifetime: configuration.idleClientLifetime, logger: logger)
    }

    /// Delivers `request` once and says what happened; throws only when the calling task is
    /// cancelled or the client was shut down, in which case no attempt is to be recorded.
    public func deliver(_ request: Request) async throws(CancellationError) -> DeliveryAttempt {
        try await limiter.acquire(request.endpointID)
        defer { limiter.release(request.endpointID) }
        let start = ContinuousClock.now
        let timeout = configuration.responseTimeout
        let ending = await withTaskGroup(of: Ending.self) { group in
            group.addTask { await self.attempt(request, start: start) }
            group.addTask {
                try? await Task.sleep(until: start + timeout)
                return .deadline
            }
            let first = await group.next() ?? .deadline
            group.cancelAll()
            return first
        }
        guard !Task.isCancelled else { throw CancellationError() }
        var attempt: DeliveryAttempt
        switch ending {
        case .finished(let finished): attempt = finished
        case .deadline: attempt = DeliveryAttempt(result: .timeout, duration: .zero)
        case .shutDown: throw CancellationError()
        }
        attempt.duration = ContinuousClock.now - start
        metrics.attempt(attempt)
        return attempt
    }

    /// How the race between an attempt and its deadline ended.
    private enum Ending: Sendable {
        case finished(DeliveryAttempt)
        case deadline
        case shutDown
    }

    /// Shuts the HTTP clients down (required before the client is released); attempts in flight
    /// fail and later `deliver` calls throw CancellationError.
    public func shutdown() async {
        await clients.shutdown()
    }

    /// Attempts in flight and waiting for `endpointID`.
    public func load(endpointID: String) -> (inFlight: Int, waiting: Int) {
        limiter.load(endpointID)
    }

    // MARK: One attempt

    private func attempt(_ request: Request, start: ContinuousClock.Instant) async -> Ending {
        let url = request.url
        let addresses: [IPAddress]
        if let literal = url.literalAddress {
            addresses = [literal]
        } else {
            do {
                addresses = try await resolver.addresses(of: url.host)
            } catch {
                return .finished(DeliveryAttempt(result: .networkError(detail: Self.detail(error)), duration: ContinuousClock.now - start))
            }
        }
        // Every address must pass, not only the one we pick: a name that also points inside
        // is refused outright rather than half-trusted.
        if let (address, category) = configuration.addressPolicy.firstRefused(in: addresses) {
            let error = WebhookURLError(.privateAddress, "the host resolves to a \(category.rawValue) address", category: category)
            return .finished(DeliveryAttempt(result: .refused(error), duration: ContinuousClock.now - start, address: address))
        }
        guard let address = addresses.first else {
            return .finished(DeliveryAttempt(result: .networkError(detail: "dns: no address"), duration: ContinuousClock.now - start))
        }
        do {
            return .finished(try await clients.withClient(endpoint: request.endpointID, host: url.host, address: address) { client in
                await self.send(request, with: client, to: address, start: start)
            })
        } catch {
            return .shutDown
        }
    }

    private func send(_ request: Request, with client: HTTPClient, to address: IPAddress, start: ContinuousClock.Instant) async -> DeliveryAttempt {
        var http = HTTPClientRequest(url: request.url.absoluteString)
        http.method = .POST
        http.headers.add(name: "content-type", value: "application/json")
        http.headers.add(name: "user-agent", value: configuration.userAgent)
        for field in request.headers.fields { http.headers.add(name: field.name, value: field.value) }
        http.body = .bytes(ByteBuffer(bytes: request.body))
        let deadline = NIODeadline.now() + .nanoseconds(configuration.responseTimeout.nanoseconds)
        do {
            let response = try await client.execute(http, deadline: deadline)
            var body: [UInt8] = []
            var truncated = false
            let cap = configuration.maximumResponseBodyBytes
            for try await chunk in response.body {
                let room = cap - body.count
                body.append(contentsOf: chunk.readableBytesView.prefix(room))
                if chunk.readableBytes > room {
                    // Leaving the loop drops the stream: AsyncHTTPClient cancels the request and
                    // closes the connection instead of reading the rest.
                    truncated = true
                    break
                }
            }
            let retryAfter = response.headers.first(name: "retry-after").flatMap(RetryAfter.init(headerValue:))
            return DeliveryAttempt(
                result: .response(status: Int(response.status.code), retryAfter: retryAfter),
                duration: ContinuousClock.now - start, responseBody: body, responseTruncated: truncated, address: address
            )
        } catch {
            let result: DeliveryAttempt.Result = Self.isTimeout(error) ? .timeout : .networkError(detail: Self.detail(error))
            return DeliveryAttempt(result: result, duration: ContinuousClock.now - start, address: address)
        }
    }

    private static func isTimeout(_ error: any Error) -> Bool {
        guard let error = error as? HTTPClientError else { return false }
        return error == .connectTimeout || error == .deadlineExceeded || error == .readTimeout || error == .getConnectionFromPoolTimeout
    }

    /// What failed, in a line: no URL (AsyncHTTPClient's errors do not quote it) and bounded.
    private static func detail(_ error: any Error) -> String {
        let text: String = switch error {
        case let error as HostResolver.ResolutionError: error.description
        case let error as NIOSSLError: "tls: \(error)"
        case let error as BoringSSLError: "tls: \(error)"
        case let error as IOError: "connect: \(error)"
        case let error as HTTPClientError: "http: \(error)"
        default: "\(type(of: error)): \(error)"
        }
        return String(text.prefix(200))
    }
}
