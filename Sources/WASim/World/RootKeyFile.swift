import Foundation
import WAWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The simulator's certificate root: a Curve25519 private key kept as 64 hex characters in a file
/// readable only by its owner, so a restarted simulator keeps the root gateways were told to trust.
public enum RootKeyFile {
    /// Loads the key at `path`, or generates one and saves it there (mode 0600) when the file does not exist.
    public static func loadOrCreate(at path: String) throws(SimulatorError) -> Curve25519KeyPair {
        if FileManager.default.fileExists(atPath: path) {
            return try load(from: path)
        }
        let key = Curve25519KeyPair.generate()
        try save(key, to: path)
        return key
    }

    public static func load(from path: String) throws(SimulatorError) -> Curve25519KeyPair {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SimulatorError(.rootKeyFile, detail: "cannot read the root key file \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Hex.decode(text), bytes.count == 32, let key = try? Curve25519KeyPair(privateKey: bytes) else {
            throw SimulatorError(.rootKeyFile, detail: "\(path) does not hold a 32-byte private key as 64 hex characters")
        }
        return key
    }

    /// Writes a new file only: an existing root is never overwritten.
    public static func save(_ key: Curve25519KeyPair, to path: String) throws(SimulatorError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SimulatorError(.rootKeyFile, detail: "cannot create the root key file \(path): errno \(errno)")
        }
        defer { close(descriptor) }
        let line = Array((Hex.encode(key.privateKey) + "\n").utf8)
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(descriptor) == 0 else {
            throw SimulatorError(.rootKeyFile, detail: "cannot write the root key file \(path): errno \(errno)")
        }
    }
}

/// Lowercase hexadecimal, as the root public key is printed and served.
enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = nibble(chars[index]), let low = nibble(chars[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): char - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
