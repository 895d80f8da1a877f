import ArgumentParser

/// The `pairgate` command line: one executable, one subcommand per job.
public struct PairgateCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pairgate",
        abstract: "Multi-tenant WhatsApp linked-device gateway.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, TenantCommand.self, KeysCommand.self, BenchCommand.self, ChaosCommand.self,
            SimCommand.self, WAVersionCommand.self, LinkCommand.self, DrainCommand.self,
        ]
    )
    public init() {}
}
