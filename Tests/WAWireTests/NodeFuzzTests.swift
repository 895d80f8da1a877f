import Foundation
import Testing
import WAWire

@Suite("Binary nodes: fuzzing the decoder and the inflater")
struct NodeFuzzTests {
    /// Node bytes (no flags byte) to mutate: the golden fixtures up to 1 KiB and a few stanzas of our own.
    /// The larger fixtures (whole token tables, 4 KB strings) add time in a debug build, not paths: the
    /// LIST_16 and BINARY_20 forms they carry are in the stanzas below.
    static let seeds: [[UInt8]] = {
        let stanzas = [
            NodeModelTests.pairSuccess,
            Node("iq", ["id": "123.45-1", "xmlns": "w:p", "type": "get", "to": .server]),
            Node("stream:error", ["code": "401"], [Node("conflict", ["type": "device_removed"])]),
            Node("message", [
                "from": .jid(JID(user: "100001", device: 5, server: .messenger)),
                "to": .jid(JID(user: "5511", device: 2, server: .interop, integrator: 7)),
                "t": "1700000000",
            ], content: .jid(JID(user: "98765", device: 2, server: .hostedLID))),
            Node("list", ["long": .string(String(repeating: "y", count: 300))], (0..<260).map { _ in Node("iq") }),
        ]
        return NodeFixture.all.map(\.bytes).filter { $0.count <= 1024 }
            + stanzas.compactMap { try? Array(NodeEncoder.encode($0).dropFirst()) }
    }()

    static let interestingBytes: [UInt8] = [0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0xEB, 0xEC, 0xEF, 0xF0, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF]

    @Test func decoderNeverCrashesOnRandomAndMutatedInput() async {
        var random = SeededRandom(seed: 0x5EED_2026)
        let decoder = NodeDecoder(limits: .init(maxDepth: 16, maxNodes: 5_000, maxInflatedSize: 64 << 10))
        let inputCount = 100_000
        var decoded = 0
        var codes: Set<String> = []
        for step in 0..<inputCount {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let frame = Self.makeFrame(&random)
            // Connections decode the Data the transport decrypts, a slice that does not start at 0:
            // it must read exactly as the array does, node for node and error for error.
            let asDecrypted = Data([0xAA, 0xBB] + frame).dropFirst(2)
            let fromArray = Result { () throws(NodeError) in try decoder.decode(frame: frame) }
            let fromData = Result { () throws(NodeError) in try decoder.decode(frame: asDecrypted) }
            if fromArray != fromData {
                Issue.record("array and Data decodes differ for \(frame.hex): \(fromArray) vs \(fromData)")
            }
            do {
                let node = try decoder.decode(frame: frame)
                decoded += 1
                // Whatever the decoder accepts must encode and read back as whatsmeow's encoding of it.
                let again = try decoder.decode(frame: NodeEncoder.encode(node))
                if again != normalizedForRoundTrip(node) {
                    Issue.record("round trip differs for \(frame.hex)")
                }
            } catch {
                codes.insert(error.code.description)
            }
        }
        #expect(decoded > inputCount / 100)
        #expect(codes.isSuperset(of: ["truncated", "trailing_bytes", "inflate_failed", "invalid_token", "invalid_list_tag"]))
    }

    static func makeFrame(_ random: inout SeededRandom) -> [UInt8] {
        let seed = seeds[Int.random(in: 0..<seeds.count, using: &random)]
        switch Int.random(in: 0..<10, using: &random) {
        case 0:
            return (0..<Int.random(in: 0..<48, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        case 1:
            // Compressed: a mutated node in an intact zlib stream, or an intact node in a mutated stream.
            let node = Bool.random(using: &random) ? mutated(seed, &random) : seed
            guard let frame = try? FramePayload.compressed([0x00] + node) else {
                return [0x02]
            }
            return Bool.random(using: &random) ? [0x02] + mutated(Array(frame.dropFirst()), &random) : frame
        default:
            return [0x00] + mutated(seed, &random)
        }
    }

    static func mutated(_ bytes: [UInt8], _ random: inout SeededRandom) -> [UInt8] {
        var out = bytes
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let position = Int.random(in: 0...out.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where position < out.count:
                out[position] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1:
                out.removeSubrange(position...)
            case 2 where position < out.count:
                out[position] = Bool.random(using: &random)
                    ? interestingBytes.randomElement(using: &random) ?? 0
                    : UInt8.random(in: 0...255, using: &random)
            case 3:
                out.insert(contentsOf: (0..<Int.random(in: 1...8, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }, at: position)
            case 4:
                out.removeSubrange(position..<min(out.count, position + Int.random(in: 1...16, using: &random)))
            default:
                let end = min(out.count, position + Int.random(in: 1...16, using: &random))
                out.insert(contentsOf: out[position..<end], at: position)
            }
        }
        return out
    }
}
