import ArgumentParser
import Foundation
import PostgresStore

/// `pairgate tenant …`: manage tenants from the command line.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Create and list tenants.",
        subcommands: [Create.self, List.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant with its hosts; prints its API token once (only its hash is stored)."
        )

        @OptionGroup var options: GlobalOptions

        @Option(help: "The tenant's display name.")
        var name: String

        @Option(help: "A host name that selects this tenant (repeat for several).")
        var host: [String]

        @Option(help: "Also write the token to this file (mode 0600) instead of only printing it.")
        var tokenFile: String?

        @Flag(help: "Print JSON.")
        var json = false

        func validate() throws {
            if host.isEmpty { throw ValidationError("give at least one --host") }
        }

        func run() async throws {
            let configuration = try await options.load()
            let created = try await DatabaseRuntime.with(configuration, label: "pairgate.tenant") { runtime in
                try await TenantStore(pool: runtime.pool).create(name: name, hosts: host)
            }
            if let tokenFile {
                let written = FileManager.default.createFile(
                    atPath: tokenFile,
                    contents: Data((created.token.value + "\n").utf8),
                    attributes: [.posixPermissions: 0o600]
                )
                if !written { throw ValidationError("could not write \(tokenFile); the tenant exists, issue a new token") }
            }
            if json {
                print(try jsonString(TenantCreatedOutput(tenant: created.tenant, token: created.token.value)))
            } else {
                print("created tenant \(created.tenant.name) (\(created.tenant.id.uuidString.lowercased()))")
                print("hosts: \(created.tenant.hosts.joined(separator: ", "))")
                print("token: \(created.token.value)")
                print("The token is shown once; only its SHA-256 is stored.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants with their hosts.")

        @OptionGroup var options: GlobalOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let configuration = try await options.load()
            let tenants = try await DatabaseRuntime.with(configuration, label: "pairgate.tenant") { runtime in
                try await TenantStore(pool: runtime.pool).list()
            }
            if json {
                print(try jsonString(tenants))
                return
            }
            let rows = tenants.map { tenant in
                [
                    tenant.id.uuidString.lowercased(), tenant.name, tenant.hosts.joined(separator: ","),
                    String(tenant.activeTokens), tenant.disabledAt == nil ? "active" : "disabled",
                ]
            }
            print(table(header: ["ID", "NAME", "HOSTS", "TOKENS", "STATUS"], rows: rows))
        }
    }
}

private struct TenantCreatedOutput: Encodable {
    var tenant: Tenant
    var token: String
}

func jsonString(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// A plain left-aligned text table.
func table(header: [String], rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
