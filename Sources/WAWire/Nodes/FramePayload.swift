import CZlib

/// The plaintext of a transport frame: a flags byte, then the node bytes, zlib-compressed (RFC 1950)
/// when bit 0x02 is set. Clients never compress; the server may.
public enum FramePayload {
    /// The inflated size a frame may reach unless the caller says otherwise.
    public static let defaultMaxInflatedSize = 4 << 20

    static let compressedFlag: UInt8 = 0x02

    /// The node bytes of a frame, inflated when its flags say so; inflating stops with
    /// `inflated_too_large` as soon as the output would exceed `maxInflatedSize`.
    public static func nodeBytes(of frame: [UInt8], maxInflatedSize: Int = defaultMaxInflatedSize) throws(NodeError) -> [UInt8] {
        Array(try nodeSlice(of: frame, maxInflatedSize: maxInflatedSize))
    }

    /// The same frame with its node bytes compressed, as the server may send it (for the simulator and tests).
    public static func compressed(_ frame: [UInt8]) throws(NodeError) -> [UInt8] {
        guard let flags = frame.first else {
            throw NodeError(.emptyFrame)
        }
        let nodeBytes = frame.dropFirst()
        var capacity = compressBound(uLong(nodeBytes.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBufferPointer { out in
            nodeBytes.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &capacity, input.baseAddress, uLong(input.count), Z_DEFAULT_COMPRESSION)
            }
        }
        guard status == Z_OK else {
            throw NodeError(.unencodable)
        }
        return [flags | compressedFlag] + output[..<Int(capacity)]
    }

    /// The node bytes without copying when the frame is not compressed.
    static func nodeSlice(of frame: [UInt8], maxInflatedSize: Int) throws(NodeError) -> ArraySlice<UInt8> {
        guard let flags = frame.first else {
            throw NodeError(.emptyFrame)
        }
        if flags & compressedFlag == 0 {
            return frame.dropFirst()
        }
        return try inflated(frame.dropFirst(), maxSize: maxInflatedSize)[...]
    }

    private enum InflateOutcome {
        case done
        case failed
        case tooLarge
    }

    /// Inflates one complete zlib stream with nothing after it. The output buffer handed to zlib never
    /// has room for more than `maxSize + 1` bytes in total, so a bomb costs at most that much memory.
    static func inflated(_ stream: ArraySlice<UInt8>, maxSize: Int) throws(NodeError) -> [UInt8] {
        let maxSize = max(0, maxSize)
        guard stream.count <= Int(UInt32.max) else {
            throw NodeError(.inflateFailed)
        }
        var z = z_stream()
        guard inflateInit_(&z, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw NodeError(.inflateFailed)
        }
        defer { inflateEnd(&z) }

        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: maxSize < 64 * 1024 ? maxSize + 1 : 64 * 1024)
        let outcome = stream.withUnsafeBufferPointer { input -> InflateOutcome in
            z.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            z.avail_in = UInt32(input.count)
            while true {
                let allowance = maxSize - output.count
                let room = allowance < chunk.count ? allowance + 1 : chunk.count
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    z.next_out = out.baseAddress
                    z.avail_out = UInt32(room)
                    let status = CZlib.inflate(&z, Z_NO_FLUSH)
                    return (status, room - Int(z.avail_out))
                }
                output.append(contentsOf: chunk[..<produced])
                if output.count > maxSize {
                    return .tooLarge
                }
                switch status {
                case Z_STREAM_END:
                    return z.avail_in == 0 ? .done : .failed
                case Z_OK:
                    continue
                default:
                    // Z_BUF_ERROR here means the input ended mid-stream; the rest are corrupt data.
                    return .failed
                }
            }
        }
        switch outcome {
        case .done: return output
        case .failed: throw NodeError(.inflateFailed)
        case .tooLarge: throw NodeError(.inflatedTooLarge)
        }
    }
}
