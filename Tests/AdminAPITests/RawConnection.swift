import NIOCore
import NIOPosix
import Synchronization

/// A plain TCP connection to a gateway, for what an HTTP client library will not do: send a
/// malformed request, or hold a connection open and look at what arrives on it.
final class RawConnection: Sendable {
    private let channel: any Channel
    private let inbox: Inbox

    final class Inbox: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let text = Mutex("")
        let closed = Mutex(false)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            text.withLock { $0 += String(buffer: buffer) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed.withLock { $0 = true }
        }
    }

    init(port: Int) async throws {
        let inbox = Inbox()
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(inbox) }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        self.inbox = inbox
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Everything received so far.
    var received: String { inbox.text.withLock { $0 } }
    var isClosed: Bool { inbox.closed.withLock { $0 } }

    func close() async {
        try? await channel.close()
    }
}
