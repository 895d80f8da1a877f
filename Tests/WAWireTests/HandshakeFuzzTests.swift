import Testing
@testable import WAWire

/// Random and mutated handshake frames never crash the parsers or the client, and fail with typed errors.
@Suite struct HandshakeFuzzTests {
    @Test func randomAndMutatedFramesFailWithTypedErrors() async throws {
        let pki = HandshakeFixtures.TestPKI()
        var client = ClientHandshake(noiseKey: .generate(), payload: WAClientPayload(), trustedRootKey: pki.root.publicKey)
        var server = ServerHandshake(staticKey: pki.serverStatic, certificateChain: pki.chain())
        let clientHello = try client.start()
        let serverHello = try server.receiveClientHello(clientHello)
        let clientFinish = try client.receiveServerHello(serverHello, now: HandshakeFixtures.now).clientFinish
        let samples = [clientHello, serverHello, clientFinish]

        var generator = SeededRandom(seed: 0x4A5D)
        for round in 0..<100_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if round % 256 == 0 { await Task.yield() }
            let input = round.isMultiple(of: 2)
                ? generator.bytes(Int.random(in: 0...300, using: &generator))
                : HandshakeFixtures.mutate(samples[round % 3], using: &generator)
            do {
                _ = try HandshakeFrame.clientHello(from: input)
            } catch {}
            do {
                _ = try HandshakeFrame.serverHello(from: input)
            } catch {}
            do {
                _ = try HandshakeFrame.clientFinish(from: input)
            } catch {}
        }
    }

    @Test func randomAndMutatedServerHellosNeverCompleteTheClientHandshake() async throws {
        let pki = HandshakeFixtures.TestPKI()
        var client = ClientHandshake(noiseKey: .generate(), payload: WAClientPayload(), trustedRootKey: pki.root.publicKey)
        var server = ServerHandshake(staticKey: pki.serverStatic, certificateChain: pki.chain())
        let serverHello = try server.receiveClientHello(try client.start())

        var generator = SeededRandom(seed: 0x5E11)
        for round in 0..<100_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if round % 256 == 0 { await Task.yield() }
            let input = round < 50_000
                ? generator.bytes(Int.random(in: 0...300, using: &generator))
                : HandshakeFixtures.mutate(serverHello, using: &generator)
            // A copy of the waiting client: value semantics give every input a fresh handshake.
            var attempt = client
            do {
                _ = try attempt.receiveServerHello(input, now: HandshakeFixtures.now)
                // Keys and ciphertexts are authenticated and framing edits break the protobuf, so
                // only an edit that restores the original (a bit flipped twice, say) may complete.
                #expect(input == serverHello)
            } catch is HandshakeError {
            } catch is NoiseError {
            } catch is CertificateChainError {
            } catch {
                Issue.record("untyped error \(error)")
            }
        }
        _ = try client.receiveServerHello(serverHello, now: HandshakeFixtures.now)
    }
}
