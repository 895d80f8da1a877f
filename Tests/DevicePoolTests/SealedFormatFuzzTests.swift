import DevicePool
import Foundation
import PairgateTestSupport
import Testing
import WAWire

/// Stored sealed bytes are read back from the database: random and mutated rows, in either format,
/// never crash the opener and never open as anything but the row that was sealed.
@Suite("Sealed format fuzz")
struct SealedFormatFuzzTests {
    @Test func randomAndMutatedRowsFailWithTypedErrors() async throws {
        let (tenant, device) = (UUID(), SealedV1Fixtures.deviceID)
        let sealer = CredentialSealer(current: try MasterKey(parsing: MasterKey.generate(id: "k1")), previous: [SealedV1Fixtures.key])
            .tenant(tenant)
        let plaintext = Array("noise and identity keys".utf8)
        let originals = [
            try sealer.seal(plaintext, deviceID: device, kind: "device"),
            SealedV1Fixtures.credentials.sealed,
            SealedV1Fixtures.sessionLikeV2.sealed,
        ]
        let kinds = ["device", SealedV1Fixtures.credentials.kind, SealedV1Fixtures.sessionLikeV2.kind]
        var generator = SeededRandom(seed: 0x5EA1)
        for round in 0..<100_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if round % 256 == 0 { await Task.yield() }
            let which = round % originals.count
            let original = originals[which]
            var bytes: [UInt8]
            switch round % 4 {
            case 0:
                bytes = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if Bool.random(using: &generator), !bytes.isEmpty { bytes[0] = 2 }
            case 1:
                bytes = original.bytes
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
                }
            case 2:
                bytes = Array(original.bytes.prefix(Int.random(in: 0..<original.bytes.count, using: &generator)))
            default:
                // Another format's header in front, or taken away.
                bytes = Bool.random(using: &generator) ? [UInt8.random(in: 0...3, using: &generator)] + original.bytes : Array(original.bytes.dropFirst())
            }
            let candidate = SealedCredential(keyID: original.keyID, bytes: bytes)
            do {
                _ = try sealer.open(candidate, deviceID: device, kind: kinds[which])
                // Authenticated: only an unchanged row opens (two flips of one byte may undo each other).
                #expect(bytes == original.bytes)
            } catch {
                #expect(error == SealingError(.tampered))
            }
        }
    }
}
