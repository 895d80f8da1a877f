import Testing
@testable import WAWire

/// Random and mutated bytes never crash the verifier and only ever fail with a CertificateChainError.
@Suite struct CertificateChainFuzzTests {
    @Test func randomAndMutatedChainsFailWithTypedErrors() async throws {
        let pki = HandshakeFixtures.TestPKI()
        let valid = pki.chain()
        let original = try CertificateChain(
            verifying: valid, serverStaticKey: pki.serverStatic.publicKey,
            trustedRootKey: pki.root.publicKey, now: HandshakeFixtures.now
        )
        var generator = SeededRandom(seed: 0xCE27)
        // Most mutants end in a signature check (about 0.5 ms in a debug build), so they are the
        // smaller share; the per-check tests cover every path the mutants reach.
        for round in 0..<100_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if round % 256 == 0 { await Task.yield() }
            let input = round < 70_000
                ? generator.bytes(Int.random(in: 0...400, using: &generator))
                : HandshakeFixtures.mutate(valid, using: &generator)
            do {
                let chain = try CertificateChain(
                    verifying: input, serverStaticKey: pki.serverStatic.publicKey,
                    trustedRootKey: pki.root.publicKey, now: HandshakeFixtures.now
                )
                // Details are signed, so an accepted input must still carry the original certificates.
                #expect(chain == original)
            } catch {
                // Typed throws: the error is a CertificateChainError; not crashing is what is tested.
            }
        }
    }
}
