import Foundation
import Signal
import Testing
import WAWire

/// Helpers shared by the Signal tests: the JSON vectors, hex, replayed and seeded randomness.
enum SignalTestKit {
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd hex length")
        func value(_ digit: UInt8) -> UInt8 {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
            default: preconditionFailure("not a lowercase hex digit")
            }
        }
        return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { byte in (byte < 0x10 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    /// A vector file from Tests/SignalTests/Vectors.
    static func vector(_ name: String) throws -> VectorNode {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors"))
        return VectorNode(try JSONSerialization.jsonObject(with: Data(contentsOf: url)))
    }

    /// Expects `body` to throw a `SignalError` with `code`.
    static func expectError<Result>(
        _ code: SignalError.Code,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws(SignalError) -> Result
    ) {
        do {
            _ = try body()
            Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, sourceLocation: sourceLocation)
        }
    }
}

/// A node of a JSON vector, read by key and index; a missing or mistyped value fails the test.
struct VectorNode {
    let value: Any?

    init(_ value: Any?) {
        self.value = value
    }

    subscript(key: String) -> VectorNode {
        VectorNode((value as? [String: Any])?[key])
    }

    subscript(index: Int) -> VectorNode {
        guard let array = value as? [Any], array.indices.contains(index) else {
            return VectorNode(nil)
        }
        return VectorNode(array[index])
    }

    var array: [VectorNode] {
        ((value as? [Any]) ?? []).map(VectorNode.init)
    }

    var isNull: Bool {
        value == nil || value is NSNull
    }

    func string() throws -> String {
        try #require(value as? String)
    }

    func bytes() throws -> [UInt8] {
        SignalTestKit.bytes(try string())
    }

    /// A 33-byte serialized public key, returned as its 32 key bytes.
    func publicKey() throws -> [UInt8] {
        let serialized = try bytes()
        try #require(serialized.count == 33 && serialized[0] == 0x05)
        return Array(serialized.dropFirst())
    }

    func uint32() throws -> UInt32 {
        try #require((value as? NSNumber)?.uint32Value)
    }

    func int() throws -> Int {
        try #require((value as? NSNumber)?.intValue)
    }
}

/// Hands out recorded draws as little-endian words, in order, so a vector's sender replays exactly.
struct ReplayGenerator: RandomNumberGenerator {
    private var words: [UInt64]
    private var position = 0

    init(words: [UInt64]) {
        self.words = words
    }

    /// Each chunk (32-byte private keys and chain keys, 64-byte signature randomness) becomes words.
    init(chunks: [[UInt8]]) {
        self.init(words: chunks.flatMap(Self.words(of:)))
    }

    static func words(of chunk: [UInt8]) -> [UInt64] {
        precondition(chunk.count % 8 == 0, "draws are whole words")
        return stride(from: 0, to: chunk.count, by: 8).map { start in
            chunk[start..<(start + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    var isExhausted: Bool {
        position == words.count
    }

    mutating func next() -> UInt64 {
        guard position < words.count else {
            Issue.record("the replay ran out of recorded draws")
            return 0
        }
        defer { position += 1 }
        return words[position]
    }
}

extension SeededRandom {
    /// A draw in 0..<bound, for picking fuzz positions and lengths.
    mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}

/// Mutations for the fuzz tests: valid bytes with a few bytes changed, inserted, removed or cut,
/// biased towards the values that stress varints and lengths (0x00, 0x7F, 0x80, 0xFF).
enum FuzzMutator {
    static func mutate(_ bytes: [UInt8], using generator: inout SeededRandom) -> [UInt8] {
        var bytes = bytes
        for _ in 0...generator.below(4) {
            let position = bytes.isEmpty ? 0 : generator.below(bytes.count)
            let value: UInt8 = switch generator.below(6) {
            case 0: 0x00
            case 1: 0x7F
            case 2: 0x80
            case 3: 0xFF
            default: UInt8(truncatingIfNeeded: generator.next())
            }
            switch generator.below(8) {
            case 0...2 where !bytes.isEmpty: bytes[position] ^= value == 0 ? 1 : value
            case 3 where !bytes.isEmpty: bytes[position] = value
            case 4: bytes.insert(value, at: position)
            case 5 where !bytes.isEmpty: bytes.remove(at: position)
            case 6: bytes = Array(bytes.prefix(position))
            default: bytes += generator.bytes(generator.below(6))
            }
        }
        return bytes
    }

    /// Random bytes of any length up to `maximum`, half of them behind a valid version byte.
    static func random(maximum: Int, versionByte: UInt8, using generator: inout SeededRandom) -> [UInt8] {
        let bytes = generator.bytes(generator.below(maximum + 1))
        return generator.below(2) == 0 || bytes.isEmpty ? bytes : [versionByte] + bytes.dropFirst()
    }
}
