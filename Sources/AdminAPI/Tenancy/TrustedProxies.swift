import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The addresses whose X-Forwarded-Host (and X-Forwarded-Proto) the gateway believes: single IPs
/// or CIDR ranges, IPv4 or IPv6. Anyone else's forwarding headers are ignored.
public struct TrustedProxies: Sendable, Hashable {
    struct Range: Sendable, Hashable {
        var network: [UInt8]
        var prefix: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == network.count else { return false }
            var remaining = prefix
            for index in network.indices where remaining > 0 {
                let bits = min(remaining, 8)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if address[index] & mask != network[index] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    private let ranges: [Range]

    public static let none = TrustedProxies(ranges: [])

    private init(ranges: [Range]) {
        self.ranges = ranges
    }

    /// Parses entries like `10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    public init(parsing entries: [String]) throws(TrustedProxyError) {
        var ranges: [Range] = []
        for entry in entries {
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            guard let first = parts.first, let address = Self.bytes(of: first) else { throw TrustedProxyError(entry: entry) }
            let maximum = address.count * 8
            var prefix = maximum
            if parts.count == 2 {
                guard let parsed = Int(parts[1]), (0...maximum).contains(parsed) else { throw TrustedProxyError(entry: entry) }
                prefix = parsed
            }
            ranges.append(Range(network: address, prefix: prefix))
        }
        self.init(ranges: ranges)
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Whether a peer is one of the trusted proxies (an IPv4-mapped IPv6 peer counts as IPv4).
    public func contains(_ peer: SocketAddress?) -> Bool {
        guard let text = peer?.ipAddress, var address = Self.bytes(of: text) else { return false }
        if address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF {
            address = Array(address[12...])
        }
        return ranges.contains { $0.contains(address) }
    }

    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

/// A `http.trusted_proxies` entry that is neither an IP address nor a CIDR range.
public struct TrustedProxyError: Error, Sendable, CustomStringConvertible {
    public var entry: String
    public var description: String { "\(entry) is not an IP address or CIDR range" }
}
