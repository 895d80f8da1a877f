/// A tenant's host name as stored and matched: lowercase, no port, no trailing dot.
public enum HostName {
    /// Validates and normalises a host name given by an operator.
    public static func normalize(_ raw: String) throws -> String {
        var host = raw.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        guard !host.isEmpty, host.utf8.count <= 253 else {
            throw StoreError(.invalidHost, "host must be 1 to 253 characters")
        }
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            guard (1...63).contains(label.utf8.count),
                  label.first != "-", label.last != "-",
                  label.utf8.allSatisfy(isHostByte)
            else {
                throw StoreError(.invalidHost, "\(raw) is not a host name (letters, digits and hyphens in dot-separated labels, no port)")
            }
        }
        return host
    }

    /// The host part of a Host header value: port stripped, lowercased; nil if malformed.
    public static func fromHeader(_ value: String) -> String? {
        var host = Substring(value.trimmingCharacters(in: " \t"))
        if host.hasPrefix("[") { return nil } // IP literals never select a tenant
        if let colon = host.lastIndex(of: ":") {
            guard host[host.index(after: colon)...].allSatisfy(\.isASCII),
                  UInt16(host[host.index(after: colon)...]) != nil
            else { return nil }
            host = host[..<colon]
        }
        return try? normalize(String(host))
    }

    private static func isHostByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-")
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let drop = Set(set)
        var scalars = Substring(self)
        while let first = scalars.first, drop.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, drop.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
