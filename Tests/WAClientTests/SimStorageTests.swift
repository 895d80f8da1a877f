import Foundation
import Signal
import Testing
@testable import WAClient
@testable import WASim
import WAWire

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

    /// A state file with the default account and one device of it that uploaded three prekeys; the
    /// device's credentials decrypt what it is sent.
    private func seededState(_ path: String) throws -> DeviceCredentials {
        var random = SeededRandom(seed: 12)
        let account = SimAccount.generate(phoneNumber: "15550001234", using: &random)
        var credentials = DeviceCredentials.generate(using: &random)
        credentials.account = PairedAccount(
            jid: "15550001234:1@s.whatsapp.net", lid: "\(account.lidUser):1@lid", platform: "android", businessName: nil,
            signedIdentity: [], keyIndex: 1
        )
        var device = linkedDevice(phone: "15550001234", id: 1)
        device.lidUser = account.lidUser
        device.identityPublicKey = try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey
        device.registrationID = credentials.registrationID
        device.uploadedPreKeys = 0
        device.recordUpload(try (1...3).map { id in
            PreKeyBundle.OneTimePreKey(id: id, publicKey: try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: id).publicKey)
        }, signedPreKey: SimSignedPreKey(
            id: credentials.signedPreKeyID, publicKey: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey,
            signature: credentials.signedPreKeySignature
        ))
        try StateFile(path: path).save { SimWorld.Snapshot(accounts: [account], devices: [device]) }
        return credentials
    }

    private func configuration(_ directory: URL) -> SimConfiguration {
        var configuration = SimConfiguration()
        configuration.statePath = directory.appendingPathComponent("state.json").path
        configuration.server.port = 0
        configuration.control.port = 0
        configuration.threads = 1
        return configuration
    }

    @Test func prekeysAndContactsAreSavedAsTheyChangeSoACrashNeverHandsAPrekeyOutTwice() throws {
        try withDirectory { directory in
            let configuration = configuration(directory)
            let credentials = try seededState(configuration.statePath!)
            let jid = JID(user: "15550001234", device: 1, server: .whatsApp)
            let simulator = try Simulator(configuration: configuration)
            try simulator.contact("15557000001", name: "Alice")
            let first = try simulator.send(from: "15557000001", to: "15550001234", text: "one")
            #expect(first.devices == [jid])

            // No shutdown: the next start sees the prekey gone and the contact, but no session.
            let restarted = try Simulator(configuration: configuration)
            #expect(restarted.world.device(jid)?.preKeys.storedIDs == [2, 3])
            #expect(restarted.contacts.map(\.pushName) == ["Alice"])
            #expect(restarted.world.queue(of: jid).isEmpty)
            _ = try restarted.send(from: "15557000001", to: "15550001234", text: "two")
            var device = try ReceivingDevice(credentials: credentials, lid: restarted.world.device(jid)?.lid)
            let stanzas = simulator.world.queue(of: jid) + restarted.world.queue(of: jid)
            #expect(try stanzas.map { try device.receive($0.node).text } == ["one", "two"])
            #expect(device.consumedPreKeys == [1, 2])
        }
    }

    @Test func aCleanShutdownSavesSessionsAndQueuesWhichTheNextStartResumesOnce() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = configuration(directory)
        let path = try #require(configuration.statePath)
        let credentials = try seededState(path)
        let jid = JID(user: "15550001234", device: 1, server: .whatsApp)

        let simulator = try Simulator(configuration: configuration)
        _ = try await simulator.start()
        try simulator.contact("15557000001")
        let first = try simulator.send(from: "15557000001", to: "15550001234", text: "queued")
        await simulator.shutdown()
        #expect(try StateFile(path: path).load()?.signal != nil)

        let resumed = try Simulator(configuration: configuration)
        #expect(try StateFile(path: path).load()?.signal == nil)
        #expect(resumed.world.queue(of: jid).map { $0.node.attribute("id") } == [first.id])
        _ = try resumed.send(from: "15557000001", to: "15550001234", text: "after the restart")
        var device = try ReceivingDevice(credentials: credentials, lid: resumed.world.device(jid)?.lid)
        let texts = try resumed.world.queue(of: jid).map { try device.receive($0.node).text }
        #expect(texts == ["queued", "after the restart"])
        // One session across the restart: one prekey, one base key.
        #expect(device.consumedPreKeys == [1])
        #expect(resumed.world.device(jid)?.preKeys.storedIDs == [2, 3])
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
