import DevicePool
import Foundation

/// Rows sealed in the v1 format (before sealed rows were bound to their tenant): nonce ‖
/// ciphertext ‖ tag, associated data "pairgate-credential-v1" ‖ owner id ‖ kind. They were made
/// outside Pairgate (Python's `cryptography`, AES-256-GCM) under `key`, so they pin the old format
/// as stored, not as our code writes it today.
public enum SealedV1Fixtures {
    /// One v1 row: whose (a device, or a webhook endpoint), which kind, and what it holds.
    public struct Row: Sendable {
        public let ownerID: UUID
        public let kind: String
        public let plaintext: [UInt8]
        public let sealed: SealedCredential
    }

    /// The master key (32 bytes of 0x5a) that sealed every row.
    public static let key = MasterKey(id: "legacy", bytes: [UInt8](repeating: 0x5a, count: 32))
    public static let deviceID = UUID(uuidString: "6f1c2a9e-4b7d-4c3a-9e21-7d5b8c0a1f01")!
    public static let endpointID = UUID(uuidString: "6f1c2a9e-4b7d-4c3a-9e21-7d5b8c0a1f02")!

    public static let credentials = row(deviceID, "device", #"{"fixture":"device keys"}"#,
        "b1b0fefb486906566e00f4f627cb4c77d9037d2f9da011c14401d3c0ab9510c35e7185ea7cad5afce006e1596aea73ab0f78dc2af9")
    public static let proxy = row(deviceID, "proxy", "socks5://user:pass@proxy.example:1080",
        "1168203e8015e167272c1798761ebc7330434c1a8f03b98624ac0d858272ddedb942a69e9b032e1cefae18a3068172cdba7edc91955758b8173ca9296b345941cb")
    /// `signal-session:15550001111:0`.
    public static let session = row(deviceID, "signal-session:15550001111:0", "session record",
        "1621d10ebfc597375e5db26adb4a7070214120cde0fba249f9e262ccbb3941533c8a5f751a0d8734380b")
    /// A v1 row whose random nonce begins with the v2 format's byte (0x02), as one v1 row in 256 does.
    public static let sessionLikeV2 = row(deviceID, "signal-session:15550002222:0", "session record whose nonce begins with 0x02",
        "02b5e0bf2b762127ce6893debcc8f816cd8dff9de959fd0578c14e3d84ab81c0b9673039fb7ed9b20d127bd0c9a1d8fa17535de144cc1aa3badfeed1ed16f5005df8d9b65395d5")
    /// `signal-identity:15550001111:0`.
    public static let identity = row(deviceID, "signal-identity:15550001111:0", "identity key",
        "4c25cb5ab91576ec2cc2286dcae648c5a942415b2b13c45df33fde3e605c5eeb683468e495e0fcf3")
    /// `signal-sender-key:120363000000000001@g.us|15550001111:0`.
    public static let senderKey = row(deviceID, "signal-sender-key:120363000000000001@g.us|15550001111:0", "sender key record",
        "b6e700f3496855cbf572a9d272707f43aa0966d901d2cdd4e358bbc267f79c927b92ac979a0f05bdf57d91041d")
    public static let webhookSecret = row(endpointID, "webhook-secret", "whsec fixture secret bytes",
        "9586839d10e671e5d473bf2b91eb2f2c224a4b3f1f4f8f707931b0a471eda4261915f5ed2d4de605b29aa8c6d869681f30cb6bbe1da6")

    public static let all = [credentials, proxy, session, sessionLikeV2, identity, senderKey, webhookSecret]

    private static func row(_ ownerID: UUID, _ kind: String, _ plaintext: String, _ hex: String) -> Row {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return Row(ownerID: ownerID, kind: kind, plaintext: Array(plaintext.utf8), sealed: SealedCredential(keyID: key.id, bytes: bytes))
    }
}
