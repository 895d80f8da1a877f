import Foundation
import NIOCore

/// Everything `pairgate sim` can be told: where it listens, how it pairs, where it keeps its root and state.
public struct SimConfiguration: Sendable {
    /// A host and port to bind; port 0 picks a free one (tests).
    public struct Endpoint: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// How pair-device refs are issued and how long each is shown (pairing.md §3.4).
    public struct Refs: Sendable, Hashable {
        /// WhatsApp sends 6.
        public var count = 6
        /// The first QR lasts 60 s …
        public var firstLifetime: Duration = .seconds(60)
        /// … and each later one 20 s.
        public var laterLifetime: Duration = .seconds(20)

        public init() {}
    }

    /// The WebSocket endpoint clients connect to (`ws://host:port/ws/chat`).
    public var server = Endpoint(host: "127.0.0.1", port: 5280)
    /// Serve `wss` with a generated certificate (for the client's TLS paths).
    public var tls = false
    /// The control API and web page.
    public var control = Endpoint(host: "127.0.0.1", port: 5281)
    public var refs = Refs()
    /// Where the root private key lives; nil makes a fresh root each run (never saved).
    public var rootKeyPath: String?
    /// Where accounts and linked devices are kept; nil keeps them in memory only.
    public var statePath: String?
    /// The phone number a scan links to when the request names none; its account exists from the start.
    public var defaultPhone = "15550001234"
    /// More accounts to have from the start (code pairing needs the account before the companion asks).
    public var phones: [String] = []
    /// Answer the first scan of each registration with companion_reg_refresh, as 2026 servers do: the
    /// client must rotate its ADV secret and show the QR again, which is then scanned a second time.
    public var refreshOnScan = false
    /// How long a phone request (scan, code) waits for the companion to finish pairing.
    public var pairingTimeout: Duration = .seconds(30)
    /// How long a delivered stanza may stay unanswered before the connection gets
    /// `<stream:error><ack/></stream:error>` and is closed.
    public var ackDeadline: Duration = .seconds(60)
    /// How long after receiving a message a contact sends its `read` receipt (contacts that read messages).
    public var readReceiptDelay: TimeInterval = 2
    /// How long the server's certificate chain is valid from start-up.
    public var certificateValidity: Duration = .seconds(30 * 24 * 3600)
    /// Event loop threads for the WebSocket server.
    public var threads = System.coreCount

    public init() {}
}
