import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Webhooks

/// A webhook receiver on 127.0.0.1 for `pairgate chaos`, `pairgate bench webhooks` and tests: it
/// records every request in the order it arrived (the signed headers, the body, when, and what it
/// answered) and answers as `answer` decides: a status at once, or after a delay. Signatures are
/// checked afterwards against the endpoints' secrets (`verify`), at the time each request came.
public final class WebhookReceiver: Sendable {
    /// How to answer one request.
    public enum Answer: Sendable, Hashable {
        /// This status (a 429 or 503 with `retryAfter` seconds in a Retry-After header).
        case status(Int, retryAfter: Int? = nil)
        /// This status, after a delay (a slow receiver; a long enough delay is a timeout).
        case delayed(Duration, status: Int)
    }

    /// A request about to be answered: where it went and what it carries.
    public struct Incoming: Sendable {
        public var path: String
        /// `webhook-id`: the event's id.
        public var id: String
        public var body: [UInt8]
    }

    /// One request as it arrived.
    public struct Request: Sendable {
        /// The request target, e.g. `/hooks/t0`.
        public var path: String
        /// `webhook-id`: the event's id.
        public var id: String
        public var timestamp: String
        public var signature: String
        public var body: [UInt8]
        /// When it arrived (wall time, for the signature's tolerance and latencies).
        public var receivedAt: Date
        /// The status it was answered with.
        public var status: Int

        public var accepted: Bool { (200...299).contains(status) }

        /// The event, if the body is one.
        public var event: WebhookEvent? { try? WebhookEvent(jsonBody: body) }
    }

    private let requests = Mutex<[Request]>([])
    private let channel = Mutex<(any Channel)?>(nil)
    private let answer: @Sendable (Incoming) -> Answer
    private let onRequest: (@Sendable (Request) -> Void)?

    /// `answer` decides each request's answer; `onRequest` sees each request as it is answered.
    private init(answer: @escaping @Sendable (Incoming) -> Answer, onRequest: (@Sendable (Request) -> Void)?) {
        self.answer = answer
        self.onRequest = onRequest
    }

    /// A receiver listening on a free port of 127.0.0.1.
    public static func start(
        answer: @escaping @Sendable (Incoming) -> Answer = { _ in .status(200) },
        onRequest: (@Sendable (Request) -> Void)? = nil
    ) async throws -> WebhookReceiver {
        let receiver = WebhookReceiver(answer: answer, onRequest: onRequest)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(WebhookReceiverHandler(receiver: receiver))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        receiver.channel.withLock { $0 = channel }
        return receiver
    }

    public var port: Int { channel.withLock { $0?.localAddress?.port ?? 0 } }

    /// `http://127.0.0.1:<port><path>`.
    public func url(path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Every request so far, in the order they arrived.
    public var received: [Request] { requests.withLock { $0 } }

    public func stop() async {
        try? await channel.withLock { $0 }?.close()
    }

    /// Requests whose signature no secret of their path verifies (at the time they came),
    /// with why; empty when every one is authentic.
    public func unverified(secrets: [String: [WebhookSecret]]) -> [(Request, String)] {
        received.compactMap { request in Self.verify(request, secrets: secrets[request.path] ?? []).map { (request, $0.description) } }
    }

    /// Why `request`'s signature does not verify with any of `secrets` at the time it came; nil
    /// when it does.
    public static func verify(_ request: Request, secrets: [WebhookSecret]) -> WebhookVerificationError.Code? {
        do throws(WebhookVerificationError) {
            try WebhookVerifier(secrets: secrets).verify(
                body: request.body, id: request.id, timestamp: request.timestamp, signature: request.signature, now: request.receivedAt
            )
            return nil
        } catch {
            return error.code
        }
    }

    fileprivate func decide(_ incoming: Incoming) -> Answer { answer(incoming) }

    fileprivate func record(_ request: Request) {
        requests.withLock { $0.append(request) }
        onRequest?(request)
    }
}

private final class WebhookReceiverHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let receiver: WebhookReceiver
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(receiver: WebhookReceiver) {
        self.receiver = receiver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            let path = head.uri
            let id = head.headers.first(name: WebhookHeaders.idName) ?? ""
            let answer = receiver.decide(.init(path: path, id: id, body: body))
            let status: Int, delay: Duration?, retryAfter: Int?
            switch answer {
            case .status(let code, let after): (status, delay, retryAfter) = (code, nil, after)
            case .delayed(let wait, let code): (status, delay, retryAfter) = (code, wait, nil)
            }
            let request = WebhookReceiver.Request(
                path: path, id: id,
                timestamp: head.headers.first(name: WebhookHeaders.timestampName) ?? "",
                signature: head.headers.first(name: WebhookHeaders.signatureName) ?? "", body: body, receivedAt: Date(), status: status
            )
            let keepAlive = head.isKeepAlive
            guard let delay else {
                receiver.record(request)
                respond(status, retryAfter: retryAfter, keepAlive: keepAlive, context: context)
                return
            }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let receiver = self.receiver
            context.eventLoop.scheduleTask(in: .nanoseconds(Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)) {
                let (handler, context) = bound.value
                // Recorded when answered: a sender that gave up meanwhile sees a closed connection.
                guard context.channel.isActive else { return }
                receiver.record(request)
                handler.respond(status, retryAfter: nil, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func respond(_ status: Int, retryAfter: Int?, keepAlive: Bool, context: ChannelHandlerContext) {
        // 204 and 304 have no body; anything sent after their head would be read as the next response.
        let body = status == 204 || status == 304 ? "" : "ok"
        var headers = HTTPHeaders(body.isEmpty ? [] : [("content-length", String(body.utf8.count))])
        if let retryAfter { headers.add(name: "retry-after", value: String(retryAfter)) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers))), promise: nil)
        if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
