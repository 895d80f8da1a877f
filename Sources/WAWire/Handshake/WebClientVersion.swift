import Crypto

/// The WhatsApp Web version a client claims, e.g. 2.3000.1045649367; an outdated one is refused with 405.
///
/// Clients take the current `client_revision` from web.whatsapp.com; `pinned` is a known value to
/// start from and to reproduce the protocol notes' examples.
public struct WebClientVersion: Sendable, Hashable, LosslessStringConvertible {
    public var primary: UInt32
    public var secondary: UInt32
    public var tertiary: UInt32

    /// The version whatsmeow pinned at the revision the protocol notes describe.
    public static let pinned = WebClientVersion(primary: 2, secondary: 3000, tertiary: 1_045_649_367)

    public init(primary: UInt32, secondary: UInt32, tertiary: UInt32) {
        self.primary = primary
        self.secondary = secondary
        self.tertiary = tertiary
    }

    /// Parses exactly three dot-separated decimal numbers, each fitting in 32 bits.
    public init?(_ description: String) {
        let parts = description.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return nil
        }
        var numbers: [UInt32] = []
        for part in parts {
            // UInt32.init accepts a leading "+", which a version string must not have.
            guard !part.isEmpty, part.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let number = UInt32(part)
            else {
                return nil
            }
            numbers.append(number)
        }
        self.init(primary: numbers[0], secondary: numbers[1], tertiary: numbers[2])
    }

    public var description: String { "\(primary).\(secondary).\(tertiary)" }

    /// MD5 of the version string, the `buildHash` of a registration (16 bytes).
    public var buildHash: [UInt8] {
        Array(Insecure.MD5.hash(data: Array(description.utf8)))
    }
}
