import Testing
@testable import WAWire

@Suite struct PairingLinkCodeTests {
    @Test func encodesTheVectorCode() throws {
        let vectors = try PairingVectors()
        let code = try LinkCode(randomBytes: vectors.bytes("link_code", "code_random5"))
        #expect(try code.code == vectors.string("link_code", "code"))
        #expect(try code.display == vectors.string("link_code", "display"))
        #expect(code.description == "LinkCode(****-****)")
    }

    @Test func encodesBitsMostSignificantFirst() throws {
        #expect(try LinkCode(randomBytes: [0, 0, 0, 0, 0]).code == "11111111")
        #expect(try LinkCode(randomBytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).code == "ZZZZZZZZ")
        #expect(try LinkCode(randomBytes: [0x08, 0x42, 0x10, 0x84, 0x21]).code == "22222222")
        #expect(try LinkCode(randomBytes: [0, 0, 0, 0, 0x1F]).code == "1111111Z")
        #expect(throws: PairingError(.keyLength)) { try LinkCode(randomBytes: [1, 2, 3, 4]) }
    }

    @Test func generatedCodesUseOnlyTheAlphabet() throws {
        var rng = PairingTestRNG(seed: 1)
        for _ in 0..<1_000 {
            let code = LinkCode.generate(using: &rng)
            #expect(code.code.utf8.count == 8)
            #expect(code.code.utf8.allSatisfy { LinkCode.alphabet.contains($0) })
            #expect(try LinkCode(parsing: code.display) == code)
        }
    }

    @Test(arguments: ["WTP2-CQCZ", "WTP2CQCZ", "wtp2-cqcz", "wTp2cQcZ"])
    func parsesTypedForms(text: String) throws {
        #expect(try LinkCode(parsing: text).code == "WTP2CQCZ")
    }

    @Test(arguments: [
        "", "WTP2CQC", "WTP2CQCZZ", "WTP-2CQCZ", "WTP2--CQCZ", "WTP2 CQCZ", " WTP2CQCZ", "WTP2CQC0",
        "WTP2CQCI", "WTP2CQCO", "WTP2CQCU", "WTP2-CQC", "-WTP2CQCZ", "WTP2CQCZ-", "WTP2‐CQCZ", "WTP2CQCé",
    ])
    func rejectsMalformedCodes(text: String) {
        #expect(throws: PairingError(.linkCodeFormat)) { try LinkCode(parsing: text) }
    }

    @Test func wrapsAndUnwrapsTheVectorKeys() throws {
        let vectors = try PairingVectors()
        let code = try LinkCode(parsing: vectors.string("link_code", "code"))
        let salt = try vectors.bytes("link_code", "salt")
        let key = try LinkCodeWrappedKey.key(code: code, salt: salt)
        #expect(try key == vectors.bytes("link_code", "pbkdf2_key"))

        let wrapped = try LinkCodeWrappedKey(
            wrapping: vectors.bytes("link_code", "companion_ephemeral_pub"),
            code: code, salt: salt, iv: vectors.bytes("link_code", "iv")
        )
        #expect(try wrapped.bytes == vectors.bytes("link_code", "wrapped_companion_ephemeral_pub_80"))

        let primary = try LinkCodeWrappedKey(bytes: vectors.bytes("link_code", "wrapped_primary_ephemeral_pub_80"))
        #expect(try primary.unwrap(code: code) == vectors.bytes("link_code", "primary_ephemeral_pub"))
    }

    @Test func counterCarriesAcrossTheWholeBlock() throws {
        // An IV of all ones makes the second block's counter wrap to zero: a 64-bit or 32-bit counter would differ.
        let code = try LinkCode(parsing: "11111111")
        let salt = [UInt8](repeating: 0, count: 32)
        let pub = [UInt8](repeating: 0, count: 32)
        let ones = try LinkCodeWrappedKey(wrapping: pub, code: code, salt: salt, iv: [UInt8](repeating: 0xFF, count: 16))
        let zero = try LinkCodeWrappedKey(wrapping: pub, code: code, salt: salt, iv: [UInt8](repeating: 0, count: 16))
        #expect(ones.ciphertext[16..<32] == zero.ciphertext[0..<16])
    }

    @Test(arguments: [0, 1, 32, 48, 79, 81, 156])
    func rejectsWrappedKeysOfWrongSize(count: Int) {
        #expect(throws: PairingError(.linkCodeWrappedKeyLength)) {
            try LinkCodeWrappedKey(bytes: [UInt8](repeating: 1, count: count))
        }
    }
}
