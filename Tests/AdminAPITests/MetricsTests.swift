import Foundation
import NIOHTTP1
import PairgateTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("GET /metrics", .requiresDatabase)
struct MetricsTests {
    @Test func metricsCoverThePoolTheHTTPLayerAndDevicesByStateWithHelp() async throws {
        try await APIHarness.run { h in
            _ = try await h.startQRPairing(h.acme)
            _ = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"qr"}"#)
            _ = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token)
            let metrics = try await h.request(.GET, "/metrics", host: nil)
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = metrics.body
            for family in [
                "pairgate_devices", "pairgate_qr_codes_issued_total", "pairgate_connection_attempts_total",
                "pairgate_pairing_lock_rejections_total", "pairgate_http_requests_total", "pairgate_http_request_duration_seconds",
            ] {
                #expect(text.contains("# HELP \(family) "), "HELP for \(family)")
                #expect(text.contains("# TYPE \(family) "), "TYPE for \(family)")
            }
            #expect(text.contains(#"pairgate_devices{state="pairing"} 1"#))
            #expect(text.contains(#"pairgate_http_requests_total{route="/pair",method="POST",status="409"}"#))
            #expect(text.contains(#"route="/status""#))
            // Unknown paths share one label value instead of growing the label set.
            _ = try await h.request(.GET, "/random-\(UUID().uuidString)", host: nil)
            let after = try await h.request(.GET, "/metrics", host: nil).body
            #expect(after.contains(#"route="unmatched""#))
            #expect(!after.contains("random-"))
            try await checkWithPromtool(after)
        }
    }

    /// `promtool check metrics` must report nothing (it lints names, types, units and help).
    private func checkWithPromtool(_ text: String) async throws {
        let promtool = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: promtool) else {
            if TestEnvironment.requiresTools { Issue.record("promtool is missing: apt-get install prometheus") }
            return
        }
        let input = TestEnvironment.scratchDirectory + "/metrics-\(UUID().uuidString).txt"
        try Data(text.utf8).write(to: URL(fileURLWithPath: input))
        defer { unlink(input) }
        let result = try await ChildProcess.run("/bin/sh", ["-c", "\(promtool) check metrics < '\(input)'"])
        let report = result.outputText + result.errorText
        #expect(result.status == 0 && report.isEmpty, "promtool check metrics: \(report)")
    }
}
