import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns what NIO reports while a connection is being set up into a `DisconnectReason` that names the stage.
enum TransportFailure {
    /// The bootstrap's connect failed: resolving or reaching `host` (the upstream, or the proxy).
    static func connect(_ error: any Error, host: String, port: Int, viaProxy: Bool) -> DisconnectReason {
        let target = viaProxy ? "the proxy \(host):\(port)" : "\(host):\(port)"
        if let error = error as? NIOConnectionError {
            guard let attempt = error.connectionErrors.first else {
                return DisconnectReason(stage: .dns, category: .network, detail: "cannot resolve \(viaProxy ? "the proxy host " : "")\(host)")
            }
            return connect(attempt.error, host: host, port: port, viaProxy: viaProxy)
        }
        if let error = error as? ChannelError, case .connectTimeout(let amount) = error {
            return DisconnectReason(stage: .tcp, category: .timeout, detail: "no TCP connection to \(target) within \(milliseconds(amount)) ms")
        }
        if let error = error as? IOError {
            return DisconnectReason(stage: .tcp, category: .network, detail: "cannot connect to \(target): \(socketErrorText(error.errnoCode))")
        }
        return DisconnectReason(stage: .tcp, category: .network, detail: "cannot connect to \(target): \(error)")
    }

    /// A failure after the TCP connection opened and before the WebSocket was upgraded, while in `stage`.
    static func setup(_ error: any Error, stage: DisconnectReason.Stage) -> DisconnectReason {
        switch error {
        case let error as ProxyError:
            let category: DisconnectReason.Category = error.code == .malformedResponse ? .protocolViolation : .network
            return DisconnectReason(stage: .proxy, category: category, code: error.status, detail: error.detail)
        case let error as NIOSSLError:
            return tls(error)
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return DisconnectReason(stage: .tls, category: .certificateRejected, detail: "the TLS certificate does not name the host")
        case let error as BoringSSLError:
            return DisconnectReason(stage: .tls, category: .network, detail: "TLS failed: \(error)")
        case is HTTPParserError:
            return DisconnectReason(stage: .websocket, category: .protocolViolation, detail: "the server did not answer the upgrade with HTTP")
        case let error as NIOHTTPClientUpgradeError:
            return DisconnectReason(stage: .websocket, category: .protocolViolation, detail: "the WebSocket upgrade response is invalid (\(error))")
        case let error as IOError:
            return DisconnectReason(stage: stage, category: .network, detail: "\(action(stage)) failed: \(socketErrorText(error.errnoCode))")
        default:
            return DisconnectReason(stage: stage, category: .network, detail: "\(action(stage)) failed: \(error)")
        }
    }

    /// The upgrade was answered with `status` instead of 101.
    static func upgradeRefused(_ status: HTTPResponseStatus) -> DisconnectReason {
        let category: DisconnectReason.Category =
            switch status.code {
            case 500...599: .serverError
            case 408: .timeout
            default: .other
            }
        return DisconnectReason(
            stage: .websocket, category: category, code: Int(status.code),
            detail: "the server refused the WebSocket upgrade with \(status.code) \(status.reasonPhrase)"
        )
    }

    /// The peer closed the socket while in `stage`.
    static func closed(during stage: DisconnectReason.Stage) -> DisconnectReason {
        DisconnectReason(stage: stage, category: .network, detail: "the connection closed during \(action(stage))")
    }

    /// `stage` did not finish within the handshake timeout.
    static func timedOut(during stage: DisconnectReason.Stage, after timeout: Duration) -> DisconnectReason {
        DisconnectReason(
            stage: stage, category: .timeout,
            detail: "\(action(stage)) did not finish within \(milliseconds(TimeAmount(timeout))) ms"
        )
    }

    private static func tls(_ error: NIOSSLError) -> DisconnectReason {
        if case .handshakeFailed(let underlying) = error, "\(underlying)".contains("CERTIFICATE_VERIFY_FAILED") {
            return DisconnectReason(stage: .tls, category: .certificateRejected, detail: "the server's TLS certificate is not trusted")
        }
        if case .uncleanShutdown = error {
            return closed(during: .tls)
        }
        return DisconnectReason(stage: .tls, category: .network, detail: "TLS failed: \(error)")
    }

    private static func action(_ stage: DisconnectReason.Stage) -> String {
        switch stage {
        case .dns: "resolving the host"
        case .tcp: "connecting"
        case .proxy: "the proxy handshake"
        case .tls: "the TLS handshake"
        case .websocket: "the WebSocket upgrade"
        default: "the \(stage.rawValue) stage"
        }
    }

    private static func milliseconds(_ amount: TimeAmount) -> Int64 {
        amount.nanoseconds / 1_000_000
    }

    private static func socketErrorText(_ code: CInt) -> String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ECONNRESET: "connection reset"
        case ETIMEDOUT: "timed out"
        case EHOSTUNREACH: "host unreachable"
        case ENETUNREACH: "network unreachable"
        case EPIPE: "broken pipe"
        default: String(cString: strerror(code))
        }
    }
}
