import DevicePool
import Foundation
import Testing

@Suite("Credential sealing")
struct CredentialSealerTests {
    let key = try! MasterKey(parsing: MasterKey.generate(id: "k1"))

    @Test func sealedCredentialsOpenOnlyForTheirDeviceAndKind() throws {
        let sealer = CredentialSealer(current: key)
        let device = UUID()
        let secret = Array("noise and identity keys".utf8)
        let sealed = try sealer.seal(secret, deviceID: device, kind: "device")
        #expect(sealed.keyID == "k1")
        #expect(!sealed.bytes.contains(subsequence: secret))
        #expect(try sealer.open(sealed, deviceID: device, kind: "device") == secret)
        #expect(throws: SealingError(.tampered)) { try sealer.open(sealed, deviceID: UUID(), kind: "device") }
        #expect(throws: SealingError(.tampered)) { try sealer.open(sealed, deviceID: device, kind: "other") }
        var flipped = sealed
        flipped.bytes[20] ^= 1
        #expect(throws: SealingError(.tampered)) { try sealer.open(flipped, deviceID: device, kind: "device") }
    }

    @Test func rotationOpensOldRowsAndSealsNewOnesUnderTheNewKey() throws {
        let device = UUID()
        let old = try CredentialSealer(current: key).seal([UInt8]([1, 2, 3]), deviceID: device, kind: "device")
        let next = try MasterKey(parsing: MasterKey.generate(id: "k2"))
        let rotated = CredentialSealer(current: next, previous: [key])
        #expect(try rotated.open(old, deviceID: device, kind: "device") == [1, 2, 3])
        let value = try rotated.seal(encoding: ["a": 1], deviceID: device, kind: "json")
        #expect(try rotated.open(decoding: [String: Int].self, from: value, deviceID: device, kind: "json") == ["a": 1])
        #expect(try rotated.seal([UInt8]([1, 2, 3]), deviceID: device, kind: "device").keyID == "k2")
        #expect(throws: SealingError(.unknownKey)) { try CredentialSealer(current: next).open(old, deviceID: device, kind: "device") }
    }

    @Test func masterKeysMustBeWellFormedAndNeverPrint() throws {
        for bad in ["", "nokey", "k1:", "k1:AAAA", ":" + MasterKey.generate(id: "x").split(separator: ":")[1], "bad id:" + String(MasterKey.generate(id: "x").split(separator: ":")[1])] {
            #expect(throws: SealingError(.badMasterKey), "\(bad)") { try MasterKey(parsing: bad) }
        }
        let text = MasterKey.generate(id: "k9")
        let material = String(text.split(separator: ":")[1])
        #expect(!String(describing: try MasterKey(parsing: text)).contains(material))
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<$0 + subsequence.count]) == subsequence }
    }
}
