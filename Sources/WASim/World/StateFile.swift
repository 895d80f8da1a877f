import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What survives a simulator restart: the accounts (phones), the devices linked to them with their
/// prekeys, the contacts and groups, and after a clean shutdown the sessions and queues.
struct SimState: Codable {
    /// 2 added prekeys, contacts, groups and `signal`; a version 1 file reads as one without them.
    static let currentVersion = 2
    static let readableVersions = [1, 2]

    var version = SimState.currentVersion
    var world: SimWorld.Snapshot
}

/// The JSON state file, replaced atomically (temporary file, fsync, rename) on every change, so a
/// crash leaves either the old or the new state, never half of one. It holds the phones' and contacts'
/// private keys: mode 0600.
public final class StateFile: Sendable {
    public let path: String
    // Writers take the snapshot and write it under one lock, so the last write holds the latest state.
    private let writing = Mutex(())

    public init(path: String) {
        self.path = path
    }

    /// The saved world, or nil when the file does not exist yet.
    public func load() throws(SimulatorError) -> SimWorld.Snapshot? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SimulatorError(.stateFile, detail: "cannot read the state file \(path)")
        }
        struct Version: Decodable { var version: Int }
        let state: SimState
        do {
            let version = try JSONDecoder.simState.decode(Version.self, from: data).version
            guard SimState.readableVersions.contains(version) else {
                throw SimulatorError(.stateFile, detail: "\(path) has state version \(version); this simulator reads \(SimState.readableVersions.map(String.init).joined(separator: " and "))")
            }
            state = try JSONDecoder.simState.decode(SimState.self, from: data)
        } catch let error as SimulatorError {
            throw error
        } catch {
            throw SimulatorError(.stateFile, detail: "\(path) is not a simulator state file: \(error)")
        }
        return state.world
    }

    /// Writes the snapshot `current` returns, taken while no other save is writing.
    public func save(_ current: () -> SimWorld.Snapshot) throws(SimulatorError) {
        try writing.withLock { (_: inout Void) throws(SimulatorError) in
            let data: Data
            do {
                data = try JSONEncoder.simState.encode(SimState(world: current()))
            } catch {
                throw SimulatorError(.stateFile, detail: "cannot encode the state: \(error)")
            }
            try Self.replace(path, with: Array(data))
        }
    }

    private static func replace(_ path: String, with bytes: [UInt8]) throws(SimulatorError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SimulatorError(.stateFile, detail: "cannot create \(temporary): errno \(errno)")
        }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else {
                close(descriptor)
                throw SimulatorError(.stateFile, detail: "cannot write \(temporary): errno \(errno)")
            }
            offset += count
        }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard synced, rename(temporary, path) == 0 else {
            throw SimulatorError(.stateFile, detail: "cannot replace \(path): errno \(errno)")
        }
    }
}

extension JSONEncoder {
    static var simState: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

extension JSONDecoder {
    static var simState: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
