import DevicePool
import Foundation
import PostgresStore
import WAClient

/// A field of a PATCH body (RFC 7396 merge-patch): absent leaves it, null clears it.
enum PatchField<Value: Decodable & Sendable>: Sendable {
    case absent
    case null
    case value(Value)
}

extension KeyedDecodingContainer {
    func patchField<T: Decodable & Sendable>(_ type: T.Type, forKey key: Key) throws -> PatchField<T> {
        guard contains(key) else { return .absent }
        if try decodeNil(forKey: key) { return .null }
        return .value(try decode(T.self, forKey: key))
    }
}

/// The body of PATCH /devices/{id}: a merge-patch of the device's name, labels and proxy.
struct DeviceSettingsBody: Decodable, Sendable {
    var name: PatchField<String>
    /// `{"key": "value"}` sets a label, `{"key": null}` removes it; null removes every label.
    var labels: PatchField<[String: String?]>
    /// An `http://` or `socks5://` URL, credentials optional; null goes back to the default.
    var proxy: PatchField<String>

    enum CodingKeys: String, CodingKey {
        case name, labels, proxy
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.patchField(String.self, forKey: .name)
        labels = try container.patchField([String: String?].self, forKey: .labels)
        proxy = try container.patchField(String.self, forKey: .proxy)
    }

    /// The change to store, with the proxy URL sealed for `deviceID`; throws a 422 problem
    /// for the first field that breaks a rule.
    func change(deviceID: UUID, sealer: TenantSealer) throws -> DeviceSettingsChange {
        var change = DeviceSettingsChange()
        switch name {
        case .absent: break
        case .null: change.name = .clear
        case .value(let text):
            guard APIText.fits(text, 1...100) else { throw APIError.invalid("name must be 1 to 100 characters, without NUL") }
            change.name = .set(text)
        }
        switch labels {
        case .absent: break
        case .null: change.clearLabels = true
        case .value(let patch):
            // The count is checked on the result, in the store (a patch may remove as it adds).
            for (key, value) in patch {
                try DeviceLabels.check(key: key)
                if let value { try DeviceLabels.check(value: value, of: key) }
            }
            change.labels = patch
        }
        switch proxy {
        case .absent: break
        case .null: change.proxy = .clear
        case .value(let url):
            let endpoint = try DeviceProxyURL.endpoint(of: url)
            change.proxy = .set(ProxySetting(sealed: try DeviceProxy.seal(url, deviceID: deviceID, sealer: sealer), endpoint: endpoint))
        }
        return change
    }
}

/// The rules for labels: the tenant's own ids, small enough to store and filter on freely.
enum DeviceLabels {
    static let maximumCount = 32
    static let maximumKeyLength = 63
    static let maximumValueLength = 200

    /// A letter or digit, then letters, digits, `.`, `_`, `-` or `/`: never `:` (filters split there).
    static func check(key: String) throws {
        let scalars = Array(key.unicodeScalars)
        guard (1...maximumKeyLength).contains(scalars.count), let first = scalars.first, isAlphanumeric(first),
              scalars.allSatisfy({ isAlphanumeric($0) || ".-_/".unicodeScalars.contains($0) })
        else {
            throw APIError.invalid(
                "label keys are 1 to \(maximumKeyLength) ASCII letters, digits, '.', '_', '-' or '/', starting with a letter or digit"
            )
        }
    }

    static func check(value: String, of key: String) throws {
        guard value.unicodeScalars.count <= maximumValueLength,
              !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw APIError.invalid("the value of label \(key) must be at most \(maximumValueLength) characters, without control characters")
        }
    }

    /// `key:value` as a filter; the value may contain `:`.
    static func filter(_ text: String) throws -> (key: String, value: String) {
        guard let colon = text.firstIndex(of: ":") else { throw APIError.invalid("label filters look like key:value") }
        let key = String(text[..<colon])
        let value = String(text[text.index(after: colon)...])
        try check(key: key)
        try check(value: value, of: key)
        return (key, value)
    }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}

/// A device's proxy URL as the API accepts it: `http://` (HTTP CONNECT) or `socks5://`, a host
/// name or IP address and a port, credentials optional — nothing else (no path, no query).
enum DeviceProxyURL {
    static let maximumLength = 2048

    /// The URL without its credentials (`scheme://host:port`), for display; throws a 422 problem
    /// for anything that is not such a URL.
    static func endpoint(of url: String) throws -> String {
        let refusal = APIError.invalid("proxy must look like http://user:pass@host:port or socks5://user:pass@host:port")
        guard url.utf8.count <= maximumLength,
              !url.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == " " }),
              let proxy = ProxyConfiguration(url: url),
              let schemeEnd = url.range(of: "://")
        else { throw refusal }
        // What follows the credentials must be the host and port alone.
        let authority = url[schemeEnd.upperBound...].split(separator: "@", omittingEmptySubsequences: false).last ?? ""
        guard !authority.contains(where: { "/?#".contains($0) }), isHost(proxy.host) else { throw refusal }
        return endpoint(proxy)
    }

    static func endpoint(_ proxy: ProxyConfiguration) -> String {
        let host = proxy.host.contains(":") ? "[\(proxy.host)]" : proxy.host
        return "\(proxy.kind.rawValue)://\(host):\(proxy.port)"
    }

    /// A DNS name or an IPv4 address, or an IPv6 address (from between brackets).
    private static func isHost(_ host: String) -> Bool {
        guard (1...253).contains(host.utf8.count) else { return false }
        if host.contains(":") {
            return host.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." }
        }
        return host.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" }
    }
}
