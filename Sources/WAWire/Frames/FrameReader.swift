/// Cuts the received byte stream into frame bodies, whatever the WebSocket message boundaries.
///
/// Frames may be split across messages and several may share one message. A frame longer than
/// `maximumFrameSize` is refused as soon as its 3 length bytes arrive, before its body is buffered.
/// Errors are final: once the stream is broken every later call throws the same error.
public struct FrameReader: Sendable {
    /// What must precede the first frame.
    public enum Intro: Sendable, Hashable {
        /// Frames start at once (the client's side: the server sends no header).
        case none
        /// The connection header `57 41 06 03` must come first (the server's side); with
        /// `allowsRoutingPrefix`, an `ED` routing prefix may come before it.
        case required(allowsRoutingPrefix: Bool)
    }

    /// The largest body accepted (at most 2^24 − 1, which the 3-byte length allows).
    public let maximumFrameSize: Int
    /// The largest routing info accepted in an ED prefix.
    public let maximumRoutingInfoSize: Int
    /// The routing info of a received ED prefix, once the header has been read.
    public private(set) var routingInfo: [UInt8]?

    private var awaitingIntro: Bool
    private let allowsRoutingPrefix: Bool
    // Bytes before `start` are consumed; compaction keeps the total copying linear.
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: FrameError?

    public init(
        maximumFrameSize: Int = FrameWriter.maximumBodySize,
        intro: Intro = .none,
        maximumRoutingInfoSize: Int = 4096
    ) {
        self.maximumFrameSize = min(max(maximumFrameSize, 0), FrameWriter.maximumBodySize)
        self.maximumRoutingInfoSize = maximumRoutingInfoSize
        switch intro {
        case .none:
            awaitingIntro = false
            allowsRoutingPrefix = false
        case .required(let allowsRoutingPrefix):
            awaitingIntro = true
            self.allowsRoutingPrefix = allowsRoutingPrefix
        }
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int {
        buffer.count - start
    }

    /// Adds the bytes of one received WebSocket message; throws at once if the header or the next
    /// frame's declared length is invalid.
    public mutating func append(_ bytes: [UInt8]) throws(FrameError) {
        if let failure {
            throw failure
        }
        buffer.append(contentsOf: bytes)
        try check { (reader: inout FrameReader) throws(FrameError) in
            if reader.awaitingIntro {
                try reader.readIntro()
            }
            if !reader.awaitingIntro {
                _ = try reader.declaredLength()
            }
        }
    }

    /// The next complete frame body, or nil until more bytes arrive.
    public mutating func nextFrame() throws(FrameError) -> [UInt8]? {
        if let failure {
            throw failure
        }
        return try check { (reader: inout FrameReader) throws(FrameError) -> [UInt8]? in
            guard !reader.awaitingIntro, let length = try reader.declaredLength(),
                reader.bufferedByteCount - 3 >= length
            else {
                return nil
            }
            let bodyStart = reader.start + 3
            let body = Array(reader.buffer[bodyStart..<(bodyStart + length)])
            reader.consume(3 + length)
            _ = try reader.declaredLength()
            return body
        }
    }

    /// Runs `body`, remembering a thrown FrameError so that the reader stays failed.
    private mutating func check<Result>(_ body: (inout FrameReader) throws(FrameError) -> Result) throws(FrameError) -> Result {
        do {
            return try body(&self)
        } catch {
            failure = error
            buffer = []
            start = 0
            throw error
        }
    }

    /// The length declared by the frame at the head, if its 3 bytes are here; refuses oversize frames.
    private func declaredLength() throws(FrameError) -> Int? {
        guard bufferedByteCount >= 3 else {
            return nil
        }
        let length = Int(buffer[start]) << 16 | Int(buffer[start + 1]) << 8 | Int(buffer[start + 2])
        guard length <= maximumFrameSize else {
            throw FrameError(.frameTooLarge)
        }
        return length
    }

    /// Consumes the header (and an ED prefix) once all of it is here; refuses wrong bytes as early as
    /// they arrive.
    private mutating func readIntro() throws(FrameError) {
        let available = buffer[start...]
        guard allowsRoutingPrefix, available.first == 0x45 else {
            try expect(FrameWriter.intro, at: start)
            if bufferedByteCount >= 4 {
                consume(4)
                awaitingIntro = false
            }
            return
        }
        try expect([0x45, 0x44, 0x00, 0x01], at: start)
        guard bufferedByteCount >= 7 else {
            return
        }
        let length = Int(buffer[start + 4]) << 16 | Int(buffer[start + 5]) << 8 | Int(buffer[start + 6])
        guard length <= maximumRoutingInfoSize else {
            throw FrameError(.routingInfoTooLarge)
        }
        guard bufferedByteCount >= 7 + length else {
            return
        }
        try expect(FrameWriter.intro, at: start + 7 + length)
        guard bufferedByteCount >= 7 + length + 4 else {
            return
        }
        routingInfo = Array(buffer[(start + 7)..<(start + 7 + length)])
        consume(7 + length + 4)
        awaitingIntro = false
    }

    /// Throws unless the buffered bytes from `offset` agree with `expected` as far as they go.
    private func expect(_ expected: [UInt8], at offset: Int) throws(FrameError) {
        for (index, byte) in expected.enumerated() where offset + index < buffer.count {
            guard buffer[offset + index] == byte else {
                throw FrameError(.invalidIntro)
            }
        }
    }

    private mutating func consume(_ count: Int) {
        start += count
        if start == buffer.count {
            // Keep a modest allocation for the next message; give back what one huge frame needed,
            // since thousands of idle connections each hold a reader.
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 16)
            start = 0
        } else if start >= 1 << 16, start * 2 >= buffer.count {
            // Moving the tail costs at most what was consumed since the last move.
            buffer.removeSubrange(..<start)
            start = 0
        }
    }
}
