import Foundation
import Testing
import WAWire
@testable import WASim

@Suite("Simulator root key and state file")
struct SimStorageTests {
    private func withDirectory(_ body: (URL) throws -> Void) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        try body(url)
    }

    private func permissions(_ path: String) throws -> Int? {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    private func linkedDevice(phone: String, id: UInt16) -> SimLinkedDevice {
        SimLinkedDevice(
            phoneNumber: phone, deviceID: id, lidUser: "123456789012345",
            noisePublicKey: Curve25519KeyPair.generate().publicKey, identityPublicKey: Curve25519KeyPair.generate().publicKey,
            registrationID: 77, keyIndex: 1, linkedAt: Date(timeIntervalSince1970: 1_790_000_000), os: "Pairgate",
            uploadedPreKeys: 812
        )
    }

    @Test func rootKeyIsGeneratedOnceWithOwnerOnlyPermissionsAndLoadedAfterwards() throws {
        try withDirectory { directory in
            let path = directory.appendingPathComponent("root.key").path
            let generated = try RootKeyFile.loadOrCreate(at: path)
            #expect(try permissions(path) == 0o600)
            let reloaded = try RootKeyFile.loadOrCreate(at: path)
            #expect(reloaded.privateKey == generated.privateKey)
            #expect(reloaded.publicKey == generated.publicKey)
        }
    }

    @Test func rootKeyFileWithoutAKeyIsRefused() throws {
        try withDirectory { directory in
            let path = directory.appendingPathComponent("root.key").path
            try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: path))
            #expect(throws: SimulatorError.self) { try RootKeyFile.loadOrCreate(at: path) }
        }
    }

    @Test func savingNeverOverwritesAnExistingRoot() throws {
        try withDirectory { directory in
            let path = directory.appendingPathComponent("root.key").path
            let first = try RootKeyFile.loadOrCreate(at: path)
            #expect(throws: SimulatorError.self) { try RootKeyFile.save(Curve25519KeyPair.generate(), to: path) }
            #expect(try RootKeyFile.load(from: path).publicKey == first.publicKey)
        }
    }

    @Test func restartedSimulatorKeepsItsRootAndPhones() throws {
        try withDirectory { directory in
            var configuration = SimConfiguration()
            configuration.rootKeyPath = directory.appendingPathComponent("root.key").path
            configuration.statePath = directory.appendingPathComponent("state.json").path
            let simulator = try Simulator(configuration: configuration)
            try simulator.phone("+49 30 1234 5678")
            #expect(try permissions(configuration.statePath!) == 0o600)
            #expect(!FileManager.default.fileExists(atPath: configuration.statePath! + ".tmp"))

            let restarted = try Simulator(configuration: configuration)
            #expect(restarted.rootPublicKeyHex == simulator.rootPublicKeyHex)
            #expect(restarted.phones == simulator.phones)
            #expect(restarted.phones.map(\.phoneNumber) == ["15550001234", "493012345678"])
        }
    }

    @Test func linkedDevicesRoundTripAndUnlinkingIsSaved() throws {
        try withDirectory { directory in
            let path = directory.appendingPathComponent("state.json").path
            var rng = SystemRandomNumberGenerator()
            let account = SimAccount.generate(phoneNumber: "15550009999", using: &rng)
            let snapshot = SimWorld.Snapshot(
                accounts: [account], devices: [linkedDevice(phone: "15550009999", id: 1), linkedDevice(phone: "15550009999", id: 2)]
            )
            try StateFile(path: path).save { snapshot }
            #expect(try StateFile(path: path).load() == snapshot)

            var configuration = SimConfiguration()
            configuration.statePath = path
            let simulator = try Simulator(configuration: configuration)
            #expect(try simulator.devices(of: "15550009999").map(\.jid) == ["15550009999:1@s.whatsapp.net", "15550009999:2@s.whatsapp.net"])
            try simulator.unlink(device: 1, of: "15550009999")
            #expect(throws: SimulatorError.self) { try simulator.unlink(device: 1, of: "15550009999") }

            let restarted = try Simulator(configuration: configuration)
            let devices = try restarted.devices(of: "15550009999")
            #expect(devices.map(\.id) == [2])
            #expect(devices.first?.online == false)
            #expect(devices.first?.os == "Pairgate")
        }
    }

    @Test func stateFileOfAnotherVersionIsRefused() throws {
        try withDirectory { directory in
            let path = directory.appendingPathComponent("state.json").path
            try Data(#"{"version":99}"#.utf8).write(to: URL(fileURLWithPath: path))
            var configuration = SimConfiguration()
            configuration.statePath = path
            #expect(throws: SimulatorError.self) { try Simulator(configuration: configuration) }
        }
    }
}
