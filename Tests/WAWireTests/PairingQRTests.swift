import Foundation
import Testing
import WAWire

@Suite struct PairingQRTests {
    private func vectorQR() throws -> PairingQR {
        let vectors = try PairingVectors()
        return try PairingQR(
            ref: vectors.string("qr", "ref"),
            noisePublicKey: vectors.bytes("companion", "noise_pub"),
            identityPublicKey: vectors.bytes("companion", "identity_pub"),
            advSecret: vectors.bytes("companion", "adv_secret"),
            platform: .chrome
        )
    }

    @Test func buildsTheVectorString() throws {
        let vectors = try PairingVectors()
        #expect(try vectorQR().string == vectors.string("qr", "qr_string"))
    }

    @Test func parsesTheVectorStringBack() throws {
        let vectors = try PairingVectors()
        let parsed = try PairingQR.parse(vectors.string("qr", "qr_string"))
        #expect(try parsed == vectorQR())
        #expect(parsed.platform == .chrome)
    }

    @Test func parsesTheLegacyFourFieldForm() throws {
        let qr = try vectorQR()
        let legacy = try PairingQR(
            ref: qr.ref, noisePublicKey: qr.noisePublicKey, identityPublicKey: qr.identityPublicKey,
            advSecret: qr.advSecret, platform: nil
        )
        #expect(!legacy.string.hasPrefix("https://"))
        #expect(legacy.string.split(separator: ",").count == 4)
        #expect(try PairingQR.parse(legacy.string) == legacy)
    }

    @Test func everyPlatformRoundTrips() throws {
        let qr = try vectorQR()
        for platform in PairingPlatform.allCases {
            let withPlatform = try PairingQR(
                ref: qr.ref, noisePublicKey: qr.noisePublicKey, identityPublicKey: qr.identityPublicKey,
                advSecret: qr.advSecret, platform: platform
            )
            #expect(try PairingQR.parse(withPlatform.string).platform == platform)
        }
        #expect(PairingPlatform.otherWebClient.rawValue == "9")
        #expect(PairingPlatform.macOS.rawValue == "c")
        #expect(PairingPlatform.android.rawValue == "e")
    }

    @Test(arguments: [
        ("https://wa.me/settings/linked_devices#a,b,c,d", PairingError.Code.qrFieldCount),
        ("https://wa.me/settings/linked_devices#a,b,c,d,1,2", .qrFieldCount),
        ("a,b,c", .qrFieldCount),
        ("", .qrFieldCount),
        ("http://wa.me/settings/linked_devices#r,AAAA,AAAA,AAAA,1", .qrPrefixMismatch),
    ])
    func rejectsMalformedShapes(text: String, code: PairingError.Code) {
        #expect(throws: PairingError(code)) { try PairingQR.parse(text) }
    }

    @Test func rejectsEachBrokenField() throws {
        let good = try vectorQR().string
        let key = Data(repeating: 7, count: 32).base64EncodedString()
        func replacing(_ index: Int, with value: String) -> String {
            var fields = good.dropFirst(PairingQR.prefix.count).split(separator: ",", omittingEmptySubsequences: false)
                .map(String.init)
            fields[index] = value
            return PairingQR.prefix + fields.joined(separator: ",")
        }
        #expect(throws: PairingError(.qrUnknownPlatform)) { try PairingQR.parse(replacing(4, with: "x")) }
        #expect(throws: PairingError(.qrUnknownPlatform)) { try PairingQR.parse(replacing(4, with: "")) }
        #expect(throws: PairingError(.qrUnknownPlatform)) { try PairingQR.parse(replacing(4, with: "11")) }
        #expect(throws: PairingError(.qrInvalidRef)) { try PairingQR.parse(replacing(0, with: "")) }
        #expect(throws: PairingError(.qrInvalidRef)) { try PairingQR.parse(replacing(0, with: "2@a b")) }
        #expect(throws: PairingError(.qrInvalidRef)) { try PairingQR.parse(replacing(0, with: "2@é")) }
        #expect(throws: PairingError(.qrInvalidRef)) {
            try PairingQR.parse(replacing(0, with: String(repeating: "r", count: PairingQR.maxRefLength + 1)))
        }
        #expect(throws: PairingError(.qrInvalidBase64)) { try PairingQR.parse(replacing(1, with: "not base64!")) }
        #expect(throws: PairingError(.qrInvalidBase64)) { try PairingQR.parse(replacing(2, with: String(key.dropLast()))) }
        // Non-canonical: the last symbol carries bits that padding says do not exist.
        #expect(throws: PairingError(.qrInvalidBase64)) {
            try PairingQR.parse(replacing(3, with: String(key.dropLast(2)) + "N="))
        }
        let shortKey = Data(repeating: 7, count: 31).base64EncodedString()
        let longKey = Data(repeating: 7, count: 33).base64EncodedString()
        #expect(throws: PairingError(.qrKeyLength)) { try PairingQR.parse(replacing(1, with: shortKey)) }
        #expect(throws: PairingError(.qrKeyLength)) { try PairingQR.parse(replacing(3, with: longKey)) }
        #expect(throws: Never.self) { try PairingQR.parse(replacing(2, with: key)) }
    }

    @Test func refusesOversizedInputBeforeSplitting() {
        let huge = PairingQR.prefix + String(repeating: ",", count: 1_000_000)
        #expect(throws: PairingError(.qrTooLong)) { try PairingQR.parse(huge) }
    }

    @Test func refusesWrongKeyLengthsWhenBuilding() throws {
        let qr = try vectorQR()
        #expect(throws: PairingError(.qrKeyLength)) {
            try PairingQR(ref: qr.ref, noisePublicKey: [1, 2], identityPublicKey: qr.identityPublicKey,
                          advSecret: qr.advSecret, platform: .chrome)
        }
        #expect(throws: PairingError(.qrInvalidRef)) {
            try PairingQR(ref: "a,b", noisePublicKey: qr.noisePublicKey, identityPublicKey: qr.identityPublicKey,
                          advSecret: qr.advSecret, platform: .chrome)
        }
    }

    @Test func errorDescriptionIsGeneric() {
        #expect(PairingError(.qrKeyLength).description == "PairingError(qr_key_length)")
    }
}
