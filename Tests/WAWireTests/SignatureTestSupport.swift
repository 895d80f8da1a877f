import Foundation
import Testing

/// Helpers shared by the signature, Noise and frame tests: hex and the JSON vectors.
enum CryptoTestKit {
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd hex length")
        func value(_ digit: UInt8) -> UInt8 {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
            default: preconditionFailure("not a hex digit")
            }
        }
        return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { byte in (byte < 0x10 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    /// A JSON vector file from Tests/WAWireTests/Vectors as nested dictionaries.
    static func vector(_ name: String) throws -> [String: Any] {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors"))
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        return try #require(object as? [String: Any])
    }

    /// The hex string at `path` (keys separated by dots) of a vector, as bytes.
    static func bytes(in vector: [String: Any], _ path: String) throws -> [UInt8] {
        var node: Any = vector
        for key in path.split(separator: ".") {
            node = try #require((node as? [String: Any])?[String(key)], "missing \(path)")
        }
        return bytes(try #require(node as? String, "\(path) is not a string"))
    }
}
