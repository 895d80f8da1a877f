/// Frames outgoing bodies (3-byte big-endian length) and puts the connection header in front of the first.
public struct FrameWriter: Sendable {
    /// The connection header `57 41 06 03` ("WA", magic 6, dictionary version 3), sent once per connection.
    public static let intro: [UInt8] = NoiseHandshake.whatsAppPrologue
    /// The largest body a 3-byte length can carry: 2^24 − 1.
    public static let maximumBodySize = (1 << 24) - 1

    // What still has to go in front of the next frame: the header, until the first frame is sent.
    private var pendingHeader: [UInt8]

    /// A writer for a connection without routing info.
    public init() {
        pendingHeader = Self.intro
    }

    /// A writer that sends `header` before its first frame (none on the server's side).
    init(header: [UInt8]) {
        pendingHeader = header
    }

    /// A writer that sends `45 44 00 01 ‖ len24 ‖ routingInfo` before the header (edge routing).
    public init(routingInfo: [UInt8]) throws {
        guard routingInfo.count <= Self.maximumBodySize else {
            throw FrameError(.routingInfoTooLarge)
        }
        pendingHeader = [0x45, 0x44, 0x00, 0x01] + Self.length24(routingInfo.count) + routingInfo + Self.intro
    }

    /// The bytes of one WebSocket message carrying `body` as one frame.
    public mutating func encode(_ body: some Collection<UInt8>) throws(FrameError) -> [UInt8] {
        guard body.count <= Self.maximumBodySize else {
            throw FrameError(.frameTooLarge)
        }
        var message = pendingHeader
        message.reserveCapacity(pendingHeader.count + 3 + body.count)
        message.append(contentsOf: Self.length24(body.count))
        message.append(contentsOf: body)
        pendingHeader = []
        return message
    }

    static func length24(_ length: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
    }
}
