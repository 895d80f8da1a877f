import Foundation
import PairgateTestSupport
import Testing
import Webhooks
import WAWire

/// An independent implementation checks our signatures: the `standardwebhooks` package from PyPI
/// (ops/test.sh installs it), and the Python verifier printed in docs/webhooks.md.
@Suite struct StandardWebhooksInteropTests {
    /// One signed request and the secret a receiver would verify it with.
    struct Case: Encodable {
        var name: String
        var secret: String
        var headers: [String: String]
        var body: String
    }

    /// Every case with the result an honest verifier must give.
    static func cases() throws -> [(Case, expected: String)] {
        var random = SeededRandom(seed: 7)
        let current = WebhookSecret.generate(using: &random), previous = WebhookSecret.generate(using: &random)
        let stranger = WebhookSecret.generate(byteCount: 64, using: &random)
        let event = WebhookEvent(
            .deviceLoggedOut(DeviceLoggedOut(reason: "logged_out", detail: "failure 401 — olá ✓", number: "+1555•••4567")),
            tenantID: UUID(), deviceID: UUID(), now: Date(), random: &random
        )
        let body = try event.jsonBody()
        let text = String(decoding: body, as: UTF8.self)
        func headers(_ secrets: [WebhookSecret], body: [UInt8] = body) -> [String: String] {
            let signed = WebhookSigner.sign(id: event.id.description, timestamp: Date(), body: body, secrets: secrets)
            return Dictionary(uniqueKeysWithValues: signed.fields.map { ($0.name, $0.value) })
        }
        let reference = try WebhookSecret(parsing: SigningTests.referenceSecret)
        return [
            (Case(name: "one secret", secret: current.serialized, headers: headers([current]), body: text), "ok"),
            (Case(name: "rotation, current secret", secret: current.serialized, headers: headers([current, previous]), body: text), "ok"),
            (Case(name: "rotation, previous secret", secret: previous.serialized, headers: headers([current, previous]), body: text), "ok"),
            (Case(name: "tampered body", secret: current.serialized, headers: headers([current]), body: text.replacingOccurrences(of: "401", with: "403")), "refused"),
            (Case(name: "wrong secret", secret: stranger.serialized, headers: headers([current, previous]), body: text), "refused"),
            (Case(name: "64-byte secret", secret: stranger.serialized, headers: headers([stranger]), body: text), "ok"),
            (Case(name: "reference secret", secret: reference.serialized, headers: headers([reference], body: SigningTests.referenceBody),
                  body: String(decoding: SigningTests.referenceBody, as: UTF8.self)), "ok"),
        ]
    }

    @Test(.enabled("needs python3 with standardwebhooks (pip)") { if TestEnvironment.requiresTools { true } else { await PythonModules.available("standardwebhooks") } })
    func thePyPIStandardWebhooksPackageVerifiesOurSignatures() async throws {
        try #require(await PythonModules.available("standardwebhooks"), "install standardwebhooks with pip (ops/test.sh does)")
        let script = """
            import json, sys
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError
            results = []
            for case in json.load(open(sys.argv[1])):
                try:
                    Webhook(case["secret"]).verify(case["body"].encode("utf-8"), case["headers"])
                    results.append("ok")
                except WebhookVerificationError:
                    results.append("refused")
            print(json.dumps(results))
            """
        try await expectResults(script: script)
    }

    @Test(.enabled(if: Python.available || TestEnvironment.requiresTools, "needs python3"))
    func theDocsPythonVerifierAgreesWithOurSignatures() async throws {
        try #require(Python.available, "install python3")
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../docs/webhooks.md")
        let snippet = try #require(DocsSnippet.block(language: "python", in: String(contentsOf: docs, encoding: .utf8)))
        #expect(snippet.contains("def verify_webhook("))
        let script = snippet + """

            import json, sys
            results = []
            for case in json.load(open(sys.argv[1])):
                headers = {name.lower(): value for name, value in case["headers"].items()}
                ok = verify_webhook(case["secret"], headers, case["body"].encode("utf-8"))
                results.append("ok" if ok else "refused")
            print(json.dumps(results))
            """
        try await expectResults(script: script)
    }

    private func expectResults(script: String) async throws {
        let cases = try Self.cases()
        let base = TestEnvironment.scratchDirectory + "/standardwebhooks-" + UUID().uuidString
        try Data(script.utf8).write(to: URL(fileURLWithPath: base + ".py"))
        try JSONEncoder().encode(cases.map(\.0)).write(to: URL(fileURLWithPath: base + ".json"))
        defer {
            try? FileManager.default.removeItem(atPath: base + ".py")
            try? FileManager.default.removeItem(atPath: base + ".json")
        }
        let result = try await Python.run([base + ".py", base + ".json"])
        #expect(result.status == 0, "\(result.errorText)")
        let results = try JSONDecoder().decode([String].self, from: Data(result.output))
        for ((testCase, expected), actual) in zip(cases, results) {
            #expect(actual == expected, "\(testCase.name)")
        }
        #expect(results.count == cases.count)
    }
}

/// python3 from PATH, run on the test thread pool.
enum Python {
    static var executable: String? { ChildProcess.find("python3") }

    static var available: Bool { executable != nil }

    static func run(_ arguments: [String]) async throws -> ChildProcess.Result {
        try await ChildProcess.run(try #require(executable), arguments)
    }
}

/// Code blocks of a Markdown document.
enum DocsSnippet {
    /// The first fenced block of `language` in `markdown`, without its fences.
    static func block(language: String, in markdown: String) -> String? {
        guard let start = markdown.range(of: "```" + language + "\n") else { return nil }
        guard let end = markdown.range(of: "\n```", range: start.upperBound..<markdown.endIndex) else { return nil }
        return String(markdown[start.upperBound..<end.lowerBound]) + "\n"
    }
}
