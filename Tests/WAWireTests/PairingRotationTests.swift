import Testing
import WAWire

@Suite struct PairingRotationTests {
    private func state(refs: [String] = ["2@one", "2@two", "2@three"]) throws -> QRPairingState {
        try QRPairingState(
            refs: refs,
            noisePublicKey: [UInt8](repeating: 1, count: 32),
            identityPublicKey: [UInt8](repeating: 2, count: 32),
            advSecret: [UInt8](repeating: 3, count: 32),
            platform: .otherWebClient
        )
    }

    @Test func rotationRerendersTheCurrentRefWithoutAdvancing() throws {
        var pairing = try state()
        #expect(pairing.advance()?.ref == "2@two")
        let before = try #require(pairing.currentQR)
        var rng = SeededRandom(seed: 9)
        guard case .rotated(let qr?) = pairing.rotateADVSecret(using: &rng) else {
            Issue.record("expected a rotated QR")
            return
        }
        #expect(qr.ref == "2@two")
        #expect(pairing.currentIndex == 1)
        #expect(qr.advSecret == pairing.advSecret)
        #expect(qr.advSecret != before.advSecret)
        #expect(qr.noisePublicKey == before.noisePublicKey && qr.identityPublicKey == before.identityPublicKey)
        #expect(try PairingQR.parse(qr.string) == qr)
        #expect(pairing.advance()?.advSecret == qr.advSecret)
    }

    @Test func rotationAfterTheRefsRunOutStillChangesTheSecret() throws {
        var pairing = try state(refs: ["2@only"])
        #expect(pairing.advance() == nil)
        #expect(pairing.advance() == nil)
        let old = pairing.advSecret
        var rng = SeededRandom(seed: 10)
        #expect(pairing.rotateADVSecret(using: &rng) == .rotated(qr: nil))
        #expect(pairing.advSecret != old)
    }

    @Test func aPendingLinkCodeSecretDefersRotationUntilThatFlowEnds() throws {
        var pairing = try state()
        var rng = SeededRandom(seed: 11)
        let derived = [UInt8](repeating: 0xAB, count: 32)
        try pairing.adoptLinkCodeSecret(derived)
        #expect(pairing.isLinkCodeSecretPending)

        #expect(pairing.rotateADVSecret(using: &rng) == .deferred)
        #expect(pairing.rotateADVSecret(using: &rng) == .deferred)
        #expect(pairing.advSecret == derived)
        #expect(pairing.isRotationDeferred)

        guard case .rotated(let qr?) = pairing.linkCodeEnded(using: &rng) else {
            Issue.record("expected the deferred rotation to apply")
            return
        }
        #expect(qr.ref == "2@one")
        #expect(pairing.advSecret != derived)
        #expect(!pairing.isRotationDeferred && !pairing.isLinkCodeSecretPending)
        #expect(pairing.linkCodeEnded(using: &rng) == nil)
    }

    @Test func aLinkCodeFlowEndingWithoutARefreshKeepsItsSecret() throws {
        var pairing = try state()
        var rng = SeededRandom(seed: 12)
        try pairing.adoptLinkCodeSecret([UInt8](repeating: 0xCD, count: 32))
        #expect(pairing.linkCodeEnded(using: &rng) == nil)
        #expect(pairing.advSecret == [UInt8](repeating: 0xCD, count: 32))
        #expect(pairing.rotateADVSecret(using: &rng) != .deferred)
    }

    @Test func refusesUnusableInputs() throws {
        #expect(throws: PairingError(.qrNoRefs)) { try state(refs: []) }
        #expect(throws: PairingError(.qrInvalidRef)) { try state(refs: ["2@ok", "bad,ref"]) }
        var pairing = try state()
        #expect(throws: PairingError(.keyLength)) { try pairing.adoptLinkCodeSecret([1, 2, 3]) }
        #expect(!pairing.isLinkCodeSecretPending)
    }
}
