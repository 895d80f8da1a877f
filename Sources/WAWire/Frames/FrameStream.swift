import Foundation

/// One side of a connection's byte stream, between WebSocket messages and stanzas: the one read and
/// write path of both session machines, the companion's (WAClient) and the simulated server's (WASim).
///
/// In: received messages are cut into frames; handshake frames come out as they are, later frames
/// are decrypted with the transport keys and decoded into nodes. Out: handshake messages are framed
/// (the client's first one behind the connection header), stanzas encoded, encrypted and framed.
/// The keys are not kept here but passed in: they belong to the machine's connected state, which
/// begins when the handshake ends.
public struct FrameStream: Sendable {
    /// Which end of the socket this is.
    public enum Side: Sendable, Hashable {
        /// The companion: sends the connection header once, before its first frame; reads frames at once.
        case client
        /// The server: reads the header (after an optional ED routing prefix) first; sends none.
        case server
    }

    private var reader: FrameReader
    private var writer: FrameWriter
    private let decoder: NodeDecoder

    public init(side: Side, decoder: NodeDecoder = NodeDecoder()) {
        switch side {
        case .client:
            reader = FrameReader()
            writer = FrameWriter()
        case .server:
            reader = FrameReader(intro: .required(allowsRoutingPrefix: true))
            writer = FrameWriter(header: [])
        }
        self.decoder = decoder
    }

    // MARK: In

    /// Adds the bytes of one received WebSocket message; throws as soon as they cannot be frames.
    /// Errors are final: every later read throws again.
    public mutating func append(_ message: [UInt8]) throws(FrameStreamError) {
        do {
            try reader.append(message)
        } catch {
            throw FrameStreamError(framing: error)
        }
    }

    /// The next complete frame as it came (a handshake message), or nil until more bytes arrive.
    public mutating func nextFrame() throws(FrameStreamError) -> [UInt8]? {
        do {
            return try reader.nextFrame()
        } catch {
            throw FrameStreamError(framing: error)
        }
    }

    /// The next complete frame decrypted with `transport` (its receive counter moves) and decoded, or
    /// nil until more bytes arrive. A frame that decrypts but does not decode is a `.failure`: the
    /// frames after it still read. A frame that does not decrypt throws: the counters disagree and
    /// nothing after it can be read.
    public mutating func nextStanza(decryptingWith transport: inout NoiseTransport) throws(FrameStreamError) -> Result<Node, NodeError>? {
        guard let frame = try nextFrame() else {
            return nil
        }
        let plaintext: Data
        do {
            plaintext = try transport.decrypt(frame)
        } catch {
            throw FrameStreamError(.undecryptable)
        }
        do {
            return .success(try decoder.decode(frame: plaintext))
        } catch {
            return .failure(error)
        }
    }

    // MARK: Out

    /// The bytes of one WebSocket message carrying a handshake message.
    public mutating func frame(_ body: some Collection<UInt8>) throws(FrameError) -> [UInt8] {
        try writer.encode(body)
    }

    /// The bytes of one WebSocket message carrying `node`, encrypted with `transport` (its send
    /// counter moves). Throws when the node cannot be encoded, the counter is used up, or the
    /// frame would be too large.
    public mutating func encrypt(_ node: Node, with transport: inout NoiseTransport) throws -> [UInt8] {
        try writer.encode(try transport.encrypt(try NodeEncoder.encode(node)))
    }
}
