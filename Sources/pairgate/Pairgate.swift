import ArgumentParser
import PairgateApp

/// The executable's entry point; the commands live in PairgateApp so tests can reach them.
@main
struct Pairgate: AsyncParsableCommand {
    static let configuration = PairgateCommand.configuration
}
