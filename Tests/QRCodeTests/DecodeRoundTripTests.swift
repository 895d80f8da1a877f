import Testing
@testable import QRCode

@Suite("Decoding with zbarimg", .enabled(if: ZbarImage.isAvailable, "zbarimg is not installed (apt-get install -y zbar-tools)"))
struct DecodeRoundTripTests {
    @Test(arguments: ErrorCorrection.allCases)
    func pairingStringDecodesAtEveryLevel(correction: ErrorCorrection) async throws {
        #expect((230...260).contains(pairingString.utf8.count))
        let code = try QRCode.encode(pairingString, correction: correction)
        #expect(try await ZbarImage.decode(code) == Array(pairingString.utf8))
    }

    @Test(arguments: [
        "pairgate",
        "HELLO WORLD",
        "31415926535897932384626433832795",
        "Olá, São Paulo — ünïcødé ✓ 日本語 😀",
    ])
    func shortTextDecodes(text: String) async throws {
        let code = try QRCode.encode(text)
        #expect(try await ZbarImage.decode(code) == Array(text.utf8))
    }

    @Test func textNeedingVersionSevenOrMoreDecodesWithItsVersionInformation() async throws {
        let text = String(repeating: "linked devices stay linked; ", count: 8)
        let code = try QRCode.encode(text, correction: .high)
        #expect(code.version >= 7)
        #expect(try await ZbarImage.decode(code) == Array(text.utf8))
    }

    /// Fills each version to its byte capacity so every block of every group carries real data:
    /// a wrong table entry, alignment centre or version bit makes zbarimg fail here.
    @Test(arguments: 1...40)
    func fullSymbolDecodesAtEveryVersionAndLevel(version: Int) async throws {
        for correction in ErrorCorrection.allCases {
            let text = filler(count: byteCapacity(version: version, correction: correction), seed: version)
            let code = try QRCode.encode(text, correction: correction)
            #expect(code.version == version)
            let decoded = try await ZbarImage.decode(code, pixelsPerModule: version > 20 ? 3 : 4)
            #expect(decoded == Array(text.utf8), "version \(version), \(correction)")
        }
    }

    private func byteCapacity(version: Int, correction: ErrorCorrection) -> Int {
        let bits = SymbolTable.dataCodewordCount(version: version, correction: correction) * 8
        return (bits - 4 - EncodingMode.byte.countBits(version: version)) / 8
    }

    /// Lower-case letters and punctuation so the encoder picks byte mode.
    private func filler(count: Int, seed: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-_.,/+=@#")
        var state = UInt32(truncatingIfNeeded: seed &* 2_654_435_761 | 1)
        var characters: [Character] = []
        for _ in 0..<count {
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            characters.append(alphabet[Int(state % UInt32(alphabet.count))])
        }
        return String(characters)
    }
}

@Suite("Required test tools")
struct RequiredToolsTests {
    @Test func zbarimgIsInstalledWhenToolsAreRequired() {
        guard ZbarImage.isRequired else { return }
        #expect(
            ZbarImage.isAvailable,
            "PAIRGATE_REQUIRE_TOOLS=1 but zbarimg is missing: apt-get install -y zbar-tools"
        )
    }
}
