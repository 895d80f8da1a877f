/// Which addresses a webhook may be delivered to: public unicast only, unless `allowPrivate`
/// (tests, on-premises receivers). Instance metadata services stay refused even then: no
/// receiver lives there, and they are what server-side request forgery is after.
public struct AddressPolicy: Sendable, Hashable {
    public var allowPrivate: Bool

    public init(allowPrivate: Bool = false) {
        self.allowPrivate = allowPrivate
    }

    /// Why an address is not public; nil for a public unicast address.
    public enum Category: String, Sendable, Hashable, CaseIterable {
        case loopback
        /// RFC 1918, IPv6 unique local (fc00::/7) and site-local (fec0::/10).
        case `private`
        /// 169.254/16 and fe80::/10.
        case linkLocal = "link_local"
        /// 100.64/10, carrier-grade NAT (RFC 6598).
        case sharedAddressSpace = "shared_address_space"
        /// 0.0.0.0 and ::, which Linux connects to the local host.
        case unspecified
        case multicast
        /// Cloud instance metadata: 169.254.169.254 and fd00:ec2::254.
        case metadata
        /// Not routable on the internet: 0/8, 240/4 and broadcast, documentation and benchmarking
        /// ranges, IETF protocol assignments, IPv4-compatible IPv6, Teredo.
        case reserved
    }

    /// Whether `address` may be connected to under this policy.
    public func allows(_ address: IPAddress) -> Bool {
        guard let category = Self.category(of: address) else { return true }
        return allowPrivate && category != .metadata
    }

    /// The first address of `addresses` this policy refuses, with its category.
    public func firstRefused(in addresses: [IPAddress]) -> (IPAddress, Category)? {
        for address in addresses where !allows(address) {
            // `allows` is false only for an address that has a category.
            if let category = Self.category(of: address) { return (address, category) }
        }
        return nil
    }

    /// The special-purpose range `address` falls in (IANA's registries), or nil when public.
    public static func category(of address: IPAddress) -> Category? {
        switch address {
        case .v4(let value): v4Category(value)
        case .v6(let bytes): v6Category(bytes, address)
        }
    }

    private static func v4Category(_ value: UInt32) -> Category? {
        func within(_ network: UInt32, _ prefix: UInt32) -> Bool {
            let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
            return value & mask == network
        }
        if value == 0 { return .unspecified }
        if value == 0xA9FE_A9FE { return .metadata }  // 169.254.169.254
        if within(0x7F00_0000, 8) { return .loopback }
        if within(0x0A00_0000, 8) || within(0xAC10_0000, 12) || within(0xC0A8_0000, 16) { return .private }
        if within(0xA9FE_0000, 16) { return .linkLocal }
        if within(0x6440_0000, 10) { return .sharedAddressSpace }
        if within(0xE000_0000, 4) { return .multicast }
        let reserved: [(UInt32, UInt32)] = [
            (0x0000_0000, 8),  // "this network"
            (0xF000_0000, 4),  // future use and 255.255.255.255
            (0xC000_0000, 24),  // IETF protocol assignments
            (0xC000_0200, 24), (0xC633_6400, 24), (0xCB00_7100, 24),  // documentation
            (0xC612_0000, 15),  // benchmarking
            (0xC058_6300, 24),  // 6to4 relay anycast
        ]
        return reserved.contains { within($0.0, $0.1) } ? .reserved : nil
    }

    private static func v6Category(_ bytes: [UInt8], _ address: IPAddress) -> Category? {
        func startsWith(_ prefix: [UInt8], bits: Int) -> Bool {
            for bit in 0..<bits {
                let mask = UInt8(0x80) >> UInt8(bit % 8)
                if bytes[bit / 8] & mask != prefix[bit / 8] & mask { return false }
            }
            return true
        }
        func zeros(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) }
        if bytes == zeros(16) { return .unspecified }
        if bytes == zeros(15) + [1] { return .loopback }
        // fd00:ec2::254, AWS's IPv6 metadata service, inside the unique local range.
        if bytes == [0xFD, 0x00, 0x0E, 0xC2] + zeros(10) + [0x02, 0x54] { return .metadata }
        // Forms that carry an IPv4 address: classify that address, so ::ffff:127.0.0.1 or a NAT64
        // or 6to4 wrapper of 10.0.0.1 is what it points at.
        if startsWith(zeros(10) + [0xFF, 0xFF], bits: 96) || startsWith([0x00, 0x64, 0xFF, 0x9B] + zeros(8), bits: 96) {
            return address.embeddedV4(at: 12).flatMap(category(of:))
        }
        if startsWith([0x20, 0x02], bits: 16) {
            return address.embeddedV4(at: 2).flatMap(category(of:))
        }
        if startsWith(zeros(12), bits: 96) { return .reserved }  // IPv4-compatible, deprecated
        if startsWith([0xFF], bits: 8) { return .multicast }
        if startsWith([0xFE, 0x80], bits: 10) { return .linkLocal }
        if startsWith([0xFC], bits: 7) || startsWith([0xFE, 0xC0], bits: 10) { return .private }
        if startsWith([0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01], bits: 48) { return .private }  // local-use NAT64
        if startsWith([0x01, 0x00] + zeros(6), bits: 64) { return .reserved }  // discard-only
        if startsWith([0x20, 0x01, 0x0D, 0xB8], bits: 32) { return .reserved }  // documentation
        if startsWith([0x20, 0x01, 0x00, 0x00], bits: 32) { return .reserved }  // Teredo
        if startsWith([0x20, 0x01, 0x00, 0x02, 0x00, 0x00], bits: 48) { return .reserved }  // benchmarking
        return nil
    }
}
