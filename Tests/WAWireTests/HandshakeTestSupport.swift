import Testing
@testable import WAWire

/// Fixtures shared by the protobuf, certificate, client payload and handshake suites.
enum HandshakeFixtures {
    /// A hex field of pairing.json, e.g. `pairing("companion", "identity_pub")`.
    static func pairing(_ section: String, _ field: String) throws -> [UInt8] {
        try CryptoTestKit.bytes(in: CryptoTestKit.vector("pairing"), "\(section).\(field)")
    }

    /// The "now" of the tests: 2025-10-09, inside every validity window built here.
    static let now: UInt64 = 1_760_000_000

    /// Keys of a test PKI; a seeded generator keeps failures reproducible.
    struct TestPKI: Sendable {
        let root: Curve25519KeyPair
        let intermediate: Curve25519KeyPair
        let serverStatic: Curve25519KeyPair

        init(seed: UInt64 = 1) {
            var generator = SeededRandom(seed: seed)
            root = .generate(using: &generator)
            intermediate = .generate(using: &generator)
            serverStatic = .generate(using: &generator)
        }

        /// A valid chain for `serverStatic`, valid from an hour before `now` to a day after.
        func chain() -> [UInt8] {
            CertificateChain.issue(
                rootKey: root, intermediateKey: intermediate, serverStaticKey: serverStatic.publicKey,
                notBefore: HandshakeFixtures.now - 3600, notAfter: HandshakeFixtures.now + 86400
            )
        }
    }

    /// `input` with a few random edits: flipped bits, replaced, inserted or deleted bytes, or a cut.
    static func mutate(_ input: [UInt8], using generator: inout SeededRandom) -> [UInt8] {
        var output = input
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            switch Int.random(in: 0..<5, using: &generator) {
            case 0 where !output.isEmpty:
                let index = Int.random(in: output.indices, using: &generator)
                output[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 1 where !output.isEmpty:
                output[Int.random(in: output.indices, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            case 2:
                let index = Int.random(in: 0...output.count, using: &generator)
                output.insert(UInt8.random(in: 0...255, using: &generator), at: index)
            case 3 where !output.isEmpty:
                output.remove(at: Int.random(in: output.indices, using: &generator))
            default:
                output = Array(output.prefix(Int.random(in: 0...output.count, using: &generator)))
            }
        }
        return output
    }
}
