import SwiftProtobuf
import Testing
@testable import WAWire

/// Random and mutated payloads never crash the server's parser and only fail with a ClientPayloadError.
@Suite struct ClientPayloadFuzzTests {
    @Test func randomAndMutatedPayloadsFailWithTypedErrors() async throws {
        let registration: [UInt8] = try ClientPayloadBuilder()
            .registrationPayload(keys: ClientPayloadBuilderTests.companionKeys()).serializedBytes()
        let login: [UInt8] = try ClientPayloadBuilder().loginPayload(username: 15_551_234_567, device: 12).serializedBytes()
        var generator = SeededRandom(seed: 0xC11E)
        var parsed = 0
        for round in 0..<100_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if round % 256 == 0 { await Task.yield() }
            let input: [UInt8]
            switch round % 4 {
            case 0, 1: input = generator.bytes(Int.random(in: 0...600, using: &generator))
            case 2: input = HandshakeFixtures.mutate(login, using: &generator)
            default: input = HandshakeFixtures.mutate(registration, using: &generator)
            }
            do {
                let payload = try ParsedClientPayload(parsing: input)
                // Whatever passes must be self-consistent: a login has its device, a registration its keys.
                switch payload.kind {
                case .login:
                    #expect(payload.payload.hasUsername && payload.payload.hasDevice)
                case .registration(let keys, let buildHash, _):
                    #expect(keys.identityKey.count == 32 && keys.signedPreKey.count == 32 && buildHash.count == 16)
                }
                parsed += 1
            } catch {
                // Typed throws: the error is a ClientPayloadError; not crashing is what is tested.
            }
        }
        // Many login mutants only touch user-agent strings and stay valid; random bytes almost never do.
        #expect(parsed > 0 && parsed < 50_000)
    }
}
