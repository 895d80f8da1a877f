import Testing
import Webhooks

/// Registration-time URL validation: what passes, how it is normalized, and each stable code.
@Suite struct WebhookURLTests {
    let policy = AddressPolicy()

    @Test(arguments: [
        ("https://hooks.example.com/pairgate", "https://hooks.example.com/pairgate", "hooks.example.com", 443),
        ("HTTPS://Hooks.Example.COM./in?token=abc&x=%20", "https://hooks.example.com/in?token=abc&x=%20", "hooks.example.com", 443),
        ("http://example.org", "http://example.org/", "example.org", 80),
        ("http://example.org:8080?a=b", "http://example.org:8080/?a=b", "example.org", 8080),
        ("https://example.org:443/x", "https://example.org/x", "example.org", 443),
        ("https://93.184.216.34/hook", "https://93.184.216.34/hook", "93.184.216.34", 443),
        ("https://[2606:2800:220:1:248:1893:25C8:1946]:8443/", "https://[2606:2800:220:1:248:1893:25c8:1946]:8443/", "2606:2800:220:1:248:1893:25c8:1946", 8443),
        ("https://xn--bcher-kva.example/a/b;c=d/@e:f", "https://xn--bcher-kva.example/a/b;c=d/@e:f", "xn--bcher-kva.example", 443),
    ])
    func validURLsAreNormalized(text: String, normalized: String, host: String, port: Int) throws {
        let url = try WebhookURL(validating: text, policy: policy)
        #expect(url.absoluteString == normalized)
        #expect(url.host == host)
        #expect(url.port == port)
    }

    @Test func theRedactedFormDropsTheQuery() throws {
        let url = try WebhookURL(validating: "https://hooks.example.com/in?token=secret", policy: policy)
        #expect(url.redacted == "https://hooks.example.com/in")
        #expect("\(url)" == "https://hooks.example.com/in")
    }

    @Test(arguments: [
        ("", "invalid_url"), ("hooks.example.com/x", "invalid_url"), ("//hooks.example.com/x", "invalid_url"), ("https:hooks.example.com", "invalid_url"),
        ("https://", "invalid_url"), ("https:///path", "invalid_url"), ("https://exa mple.com/", "invalid_url"), ("https://exämple.com/", "invalid_url"),
        ("https://example.com/a b", "invalid_url"), ("https://example.com/#frag", "invalid_url"), ("https://example.com\\@evil.com/", "invalid_url"),
        ("https://example.com:0/", "invalid_url"), ("https://example.com:65536/", "invalid_url"), ("https://example.com:/", "invalid_url"),
        ("https://example.com:8x/", "invalid_url"), ("https://example.com:0443/", "invalid_url"), ("https://example.1a/", "invalid_url"),
        ("https://example.-a/", "invalid_url"), ("https://-bad.example.com/", "invalid_url"), ("https://bad_.example.com/", "invalid_url"),
        ("https://a..b/", "invalid_url"), ("https://127.1/", "invalid_url"), ("https://2130706433/", "invalid_url"), ("https://0x7f000001/", "invalid_url"),
        ("https://0x7f.0.0.1/", "invalid_url"), ("https://1.2.3.4.5/", "invalid_url"), ("https://[::1/", "invalid_url"), ("https://[fe80::1%25eth0]/", "invalid_url"),
        ("https://[127.0.0.1]/", "invalid_url"), ("https://::1/", "invalid_url"), ("https://example.com/%zz", "invalid_url"), ("https://example.com/<script>", "invalid_url"),
        ("https://example.com/" + String(repeating: "a", count: 2048), "invalid_url"),
        ("ftp://example.com/", "unsupported_scheme"), ("file:///etc/passwd", "unsupported_scheme"), ("javascript://x", "unsupported_scheme"),
        ("gopher://127.0.0.1/", "unsupported_scheme"), ("ws://example.com/", "unsupported_scheme"),
        ("https://user:pass@example.com/", "credentials_in_url"), ("https://user@example.com/", "credentials_in_url"), ("https://@example.com/", "credentials_in_url"),
        ("http://127.0.0.1:8080/", "private_address"), ("http://10.1.2.3/", "private_address"), ("http://[::1]/", "private_address"),
        ("http://169.254.169.254/latest/meta-data", "private_address"), ("http://[fd00:ec2::254]/", "private_address"), ("http://0.0.0.0/", "private_address"),
        ("http://localhost:8080/", "private_address"), ("http://api.localhost/", "private_address"), ("http://[::ffff:192.168.0.1]/", "private_address"),
        ("http://100.64.0.1/", "private_address"), ("http://224.0.0.1/", "private_address"),
    ])
    func badURLsGetTheirStableCode(text: String, code: String) {
        #expect(throws: WebhookURLError.self) { try WebhookURL(validating: text, policy: policy) }
        do {
            _ = try WebhookURL(validating: text, policy: policy)
        } catch {
            #expect(error.code.description == code, "\(text): \(error)")
            #expect(!error.description.contains("example.com"), "the error never quotes the URL")
        }
    }

    @Test func allowPrivateAdmitsPrivateHostsButNotMetadata() throws {
        let open = AddressPolicy(allowPrivate: true)
        for text in ["http://127.0.0.1:8080/hook", "http://localhost:9000/", "http://10.0.0.5/", "http://[::1]:1234/", "http://receiver/"] {
            _ = try WebhookURL(validating: text, policy: open)
        }
        do {
            _ = try WebhookURL(validating: "http://169.254.169.254/", policy: open)
            Issue.record("the metadata address was accepted")
        } catch {
            #expect(error.code == .privateAddress)
            #expect(error.category == .metadata)
        }
    }
}
