import ArgumentParser
import DevicePool
import Foundation
import PostgresStore

/// `pairgate keys …`: master keys for the credentials sealed at rest.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Generate master keys and re-seal stored credentials under a new one.",
        subcommands: [Generate.self, Rotate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a new random master key (id:base64).")

        @Option(help: "The key's id, stored beside every row it seals.")
        var id = "k1"

        func run() throws {
            print(MasterKey.generate(id: id))
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Re-seal every credential, Signal row and webhook secret not yet under credentials.master_key in the \
                current format (bound to its tenant); previous keys come from credentials.previous_keys.
                """
        )

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let configuration = try await options.load()
            let sealer = try configuration.requireSealer()
            let (devices, webhooks) = try await DatabaseRuntime.with(configuration, label: "pairgate.keys") { runtime in
                let store = PostgresDeviceStore(pool: runtime.pool)
                let credentials = try await store.resealAll(with: sealer)
                // The receive path's sessions, identities and sender keys are sealed under the same keys.
                let signal = try await store.resealProtocolState(with: sealer)
                let webhooks = try await WebhookStore(pool: runtime.pool).resealAll(with: sealer)
                return ((credentials.resealed + signal.resealed, credentials.unreadable + signal.unreadable), webhooks)
            }
            let (resealed, unreadable) = devices
            let skipped = unreadable.count + webhooks.unreadable.count
            for row in unreadable {
                print("cannot open device \(row.deviceID.uuidString.lowercased()) \(row.kind) (key \(row.keyID)): the key is not configured, or the row was altered or moved from another device or tenant")
            }
            for row in webhooks.unreadable {
                print("cannot open the secret of webhook \(row.endpointID.uuidString.lowercased()) (key \(row.keyID)): the key is not configured, or the row was altered or moved")
            }
            print("re-sealed \(resealed) credential and Signal rows and \(webhooks.resealed) webhook secrets under key \(sealer.current.id), format v2")
            if skipped > 0 {
                print("\(skipped) rows could not be opened with the configured keys; add their key to credentials.previous_keys and run again")
                throw ExitCode.failure
            }
        }
    }
}
