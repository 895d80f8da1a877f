import DevicePool
import Foundation
import PairgateTestSupport
import Testing

@Suite("Credential sealing")
struct CredentialSealerTests {
    let key = try! MasterKey(parsing: MasterKey.generate(id: "k1"))

    @Test func sealedCredentialsOpenOnlyForTheirTenantDeviceAndKind() throws {
        let sealer = CredentialSealer(current: key)
        let (tenant, device) = (UUID(), UUID())
        let secret = Array("noise and identity keys".utf8)
        let sealed = try sealer.tenant(tenant).seal(secret, deviceID: device, kind: "device")
        #expect(sealed.keyID == "k1")
        #expect(!sealed.bytes.contains(subsequence: secret))
        #expect(try sealer.tenant(tenant).open(sealed, deviceID: device, kind: "device") == secret)
        // The same device id and kind under another tenant (a device row re-parented, a row
        // copied across tenants) does not open, with an error that says what may be wrong.
        let error = #expect(throws: SealingError(.tampered)) { try sealer.tenant(UUID()).open(sealed, deviceID: device, kind: "device") }
        #expect(error?.description.contains("another tenant") == true)
        #expect(throws: SealingError(.tampered)) { try sealer.tenant(tenant).open(sealed, deviceID: UUID(), kind: "device") }
        #expect(throws: SealingError(.tampered)) { try sealer.tenant(tenant).open(sealed, deviceID: device, kind: "other") }
        for index in sealed.bytes.indices {
            var flipped = sealed
            flipped.bytes[index] ^= 1
            #expect(throws: SealingError(.tampered), "byte \(index)") { try sealer.tenant(tenant).open(flipped, deviceID: device, kind: "device") }
        }
        for length in [0, 1, 12, 28, 29] {
            let short = SealedCredential(keyID: "k1", bytes: Array(sealed.bytes.prefix(length)))
            #expect(throws: SealingError(.tampered), "\(length) bytes") { try sealer.tenant(tenant).open(short, deviceID: device, kind: "device") }
        }
    }

    @Test func rowsAreWrittenInTheVersionedFormat() throws {
        let (sealer, device) = (CredentialSealer(current: key).tenant(UUID()), UUID())
        let sealed = try sealer.seal([UInt8]([1, 2, 3]), deviceID: device, kind: "device")
        // The version byte, the 12-byte nonce, the ciphertext and the 16-byte tag.
        #expect(sealed.bytes.first == 2)
        #expect(sealed.bytes.count == 1 + 12 + 3 + 16)
        // Marked as version 1 or with no version byte, it does not open: the version is authenticated.
        var relabelled = sealed
        relabelled.bytes[0] = 1
        #expect(throws: SealingError(.tampered)) { try sealer.open(relabelled, deviceID: device, kind: "device") }
        #expect(throws: SealingError(.tampered)) {
            try sealer.open(SealedCredential(keyID: "k1", bytes: Array(sealed.bytes.dropFirst())), deviceID: device, kind: "device")
        }
    }

    @Test func v1RowsStillOpenForTheirDeviceAndKindWhateverTheTenant() throws {
        let sealer = CredentialSealer(current: key, previous: [SealedV1Fixtures.key])
        for row in SealedV1Fixtures.all {
            // v1 predates the tenant binding: any tenant opens it, which `keys rotate` ends.
            #expect(try sealer.tenant(UUID()).open(row.sealed, deviceID: row.ownerID, kind: row.kind) == row.plaintext, "\(row.kind)")
            #expect(throws: SealingError(.tampered), "\(row.kind)") { try sealer.tenant(UUID()).open(row.sealed, deviceID: UUID(), kind: row.kind) }
            #expect(throws: SealingError(.tampered), "\(row.kind)") { try sealer.tenant(UUID()).open(row.sealed, deviceID: row.ownerID, kind: "other") }
        }
        #expect(SealedV1Fixtures.sessionLikeV2.sealed.bytes.first == 2)
    }

    @Test func resealUpgradesV1RowsAndRowsUnderOldKeysAndLeavesCurrentOnes() throws {
        let tenant = UUID()
        let sealer = CredentialSealer(current: SealedV1Fixtures.key).tenant(tenant)
        for row in SealedV1Fixtures.all {
            // Under the current key but in v1: re-sealed in v2, bound to the tenant.
            let upgraded = try #require(try sealer.reseal(row.sealed, deviceID: row.ownerID, kind: row.kind), "\(row.kind)")
            #expect(upgraded.keyID == SealedV1Fixtures.key.id)
            #expect(try sealer.open(upgraded, deviceID: row.ownerID, kind: row.kind) == row.plaintext)
            #expect(throws: SealingError(.tampered)) { try CredentialSealer(current: SealedV1Fixtures.key).tenant(UUID()).open(upgraded, deviceID: row.ownerID, kind: row.kind) }
            // Already current: nothing to do.
            #expect(try sealer.reseal(upgraded, deviceID: row.ownerID, kind: row.kind) == nil)
        }
        // v2 under an old key: re-sealed under the new one.
        let device = UUID()
        let old = try sealer.seal([UInt8]([7]), deviceID: device, kind: "device")
        let rotated = CredentialSealer(current: key, previous: [SealedV1Fixtures.key]).tenant(tenant)
        let fresh = try #require(try rotated.reseal(old, deviceID: device, kind: "device"))
        #expect(fresh.keyID == "k1")
        #expect(try rotated.open(fresh, deviceID: device, kind: "device") == [7])
        // A row that does not open for this tenant is not re-sealed into it.
        #expect(throws: SealingError(.tampered)) { try CredentialSealer(current: key, previous: [SealedV1Fixtures.key]).tenant(UUID()).reseal(old, deviceID: device, kind: "device") }
    }

    @Test func rotationOpensOldRowsAndSealsNewOnesUnderTheNewKey() throws {
        let (tenant, device) = (UUID(), UUID())
        let old = try CredentialSealer(current: key).tenant(tenant).seal([UInt8]([1, 2, 3]), deviceID: device, kind: "device")
        let next = try MasterKey(parsing: MasterKey.generate(id: "k2"))
        let rotated = CredentialSealer(current: next, previous: [key]).tenant(tenant)
        #expect(try rotated.open(old, deviceID: device, kind: "device") == [1, 2, 3])
        let value = try rotated.seal(encoding: ["a": 1], deviceID: device, kind: "json")
        #expect(try rotated.open(decoding: [String: Int].self, from: value, deviceID: device, kind: "json") == ["a": 1])
        #expect(try rotated.seal([UInt8]([1, 2, 3]), deviceID: device, kind: "device").keyID == "k2")
        #expect(throws: SealingError(.unknownKey)) { try CredentialSealer(current: next).tenant(tenant).open(old, deviceID: device, kind: "device") }
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
