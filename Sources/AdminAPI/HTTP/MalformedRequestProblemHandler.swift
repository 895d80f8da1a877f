import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Gives the answer to a request the HTTP parser refused a problem document like every other
/// error. Hummingbird answers such a request itself, before any responder runs, with a bare
/// `400` (`Connection: close`, `Content-Length: 0`); this handler, on the connection's pipeline,
/// adds the body on the way out. The gateway's own 400s always carry a body, so the bare form is
/// Hummingbird's alone.
final class MalformedRequestProblemHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data), head.status == .badRequest,
              head.headerFields[.contentLength] == "0", head.headerFields[.contentType] == nil
        else {
            context.write(data, promise: promise)
            return
        }
        let body = Self.body
        head.headerFields[.contentType] = "application/problem+json"
        head.headerFields[.contentLength] = String(body.readableBytes)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: promise)
    }

    private static let body: ByteBuffer = {
        let data = (try? APIJSON.encoder.encode(Problem.malformedRequest)) ?? Data(#"{"code":"bad_request"}"#.utf8)
        return ByteBuffer(bytes: data)
    }()
}
