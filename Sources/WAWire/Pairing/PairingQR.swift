import Foundation

/// The companion web-client type that ends the QR string (pairing.md §3.3); not the DeviceProps platform enum.
public enum PairingPlatform: String, Sendable, Hashable, CaseIterable {
    case unknown = "0"
    case chrome = "1"
    case edge = "2"
    case firefox = "3"
    case internetExplorer = "4"
    case opera = "5"
    case safari = "6"
    case electron = "7"
    case uwp = "8"
    case otherWebClient = "9"
    case macOS = "c"
    case android = "e"
}

/// The text a phone scans to link a companion: `https://wa.me/settings/linked_devices#ref,noise,identity,adv,platform`.
public struct PairingQR: Sendable, Hashable {
    public static let prefix = "https://wa.me/settings/linked_devices#"
    /// A real string is about 260 characters; anything far longer is refused before it is split.
    public static let maxLength = 1024
    /// Real refs are `2@` plus 80 base64 characters.
    public static let maxRefLength = 256

    /// The server's ref, printable ASCII without commas.
    public let ref: String
    public let noisePublicKey: [UInt8]
    public let identityPublicKey: [UInt8]
    public let advSecret: [UInt8]
    /// nil for the legacy 4-field form, which had neither the URL prefix nor a platform.
    public let platform: PairingPlatform?

    public init(
        ref: String,
        noisePublicKey: [UInt8],
        identityPublicKey: [UInt8],
        advSecret: [UInt8],
        platform: PairingPlatform?
    ) throws(PairingError) {
        guard Self.isValidRef(ref.utf8) else { throw PairingError(.qrInvalidRef) }
        guard noisePublicKey.count == 32, identityPublicKey.count == 32, advSecret.count == 32 else {
            throw PairingError(.qrKeyLength)
        }
        self.ref = ref
        self.noisePublicKey = noisePublicKey
        self.identityPublicKey = identityPublicKey
        self.advSecret = advSecret
        self.platform = platform
    }

    /// The string to render as a QR code; the legacy form when `platform` is nil.
    public var string: String {
        let fields = [
            ref,
            Data(noisePublicKey).base64EncodedString(),
            Data(identityPublicKey).base64EncodedString(),
            Data(advSecret).base64EncodedString(),
        ]
        guard let platform else { return fields.joined(separator: ",") }
        return Self.prefix + (fields + [platform.rawValue]).joined(separator: ",")
    }

    /// Reads the current 5-field form or the legacy 4-field form (no prefix, no platform).
    public static func parse(_ text: String) throws(PairingError) -> PairingQR {
        // Work on the UTF-8 bytes: every valid field is ASCII, and byte slicing has no Unicode surprises.
        guard text.utf8.count <= maxLength else { throw PairingError(.qrTooLong) }
        let bytes = Array(text.utf8)
        let prefixBytes = Array(prefix.utf8)
        let hasPrefix = bytes.starts(with: prefixBytes)
        let body = hasPrefix ? bytes[prefixBytes.count...] : bytes[...]
        let fields = body.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        let platform: PairingPlatform?
        switch (hasPrefix, fields.count) {
        case (true, 5):
            guard let parsed = PairingPlatform(rawValue: String(decoding: fields[4], as: UTF8.self)) else {
                throw PairingError(.qrUnknownPlatform)
            }
            platform = parsed
        case (false, 4):
            platform = nil
        case (false, 5):
            throw PairingError(.qrPrefixMismatch)
        default:
            throw PairingError(.qrFieldCount)
        }
        guard isValidRef(fields[0]) else { throw PairingError(.qrInvalidRef) }
        return try PairingQR(
            ref: String(decoding: fields[0], as: UTF8.self),
            noisePublicKey: decodeKey(fields[1]),
            identityPublicKey: decodeKey(fields[2]),
            advSecret: decodeKey(fields[3]),
            platform: platform
        )
    }

    private static func isValidRef(_ ref: some Collection<UInt8>) -> Bool {
        guard !ref.isEmpty, ref.count <= maxRefLength else { return false }
        return ref.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ",") }
    }

    /// Only canonical padded base64 is accepted, so each key has exactly one spelling.
    private static func decodeKey(_ field: ArraySlice<UInt8>) throws(PairingError) -> [UInt8] {
        guard let data = Data(base64Encoded: Data(field)),
              Array(data.base64EncodedString().utf8) == Array(field)
        else {
            throw PairingError(.qrInvalidBase64)
        }
        guard data.count == 32 else { throw PairingError(.qrKeyLength) }
        return [UInt8](data)
    }
}
