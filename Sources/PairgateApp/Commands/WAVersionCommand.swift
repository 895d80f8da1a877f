import AdminAPI
import ArgumentParser
import Foundation

/// `pairgate wa-version`: asks web.whatsapp.com for the current web client revision, the same
/// source the gateway checks (docs/operations.md, "The WhatsApp Web version").
struct WAVersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wa-version",
        abstract: "Print the current WhatsApp Web version (2.3000.<client_revision>) fetched from web.whatsapp.com."
    )

    @Option(help: "Where to read client_revision from (the service worker script, as Baileys does).")
    var url: String = WebVersionSource.whatsApp.absoluteString

    @Option(help: "Seconds to wait for an answer.")
    var timeout: Double = 15

    func run() async throws {
        guard let target = URL(string: url), target.scheme != nil else {
            throw ValidationError("not a URL: \(url)")
        }
        do {
            print(try await WebVersionSource(url: target, timeout: .seconds(timeout)).fetch())
        } catch let unavailable as WebVersionUnavailable {
            throw WAVersionUnavailable(
                "\(unavailable). Without internet access keep the version in use, or set one by hand "
                    + "(PUT /admin/client-version, or upstream.web_version)."
            )
        }
    }
}

/// Printed by ArgumentParser as `Error: …` with exit status 1, so scripts see the failure.
private struct WAVersionUnavailable: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
