import Crypto
import Testing
@testable import WAWire

@Suite("HMAC-SHA-256 for the Noise key schedule")
struct HMACSHA256Tests {
    /// RFC 4231 §4.2–4.8 (case 5 truncates the output and is left out); 6 and 7 use a 131-byte key.
    static let rfc4231: [(key: [UInt8], message: [UInt8], code: String)] = [
        ([UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (Array(1...25), [UInt8](repeating: 0xCD, count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ([UInt8](repeating: 0xAA, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ([UInt8](repeating: 0xAA, count: 131), Array(("This is a test using a larger than block-size key and a larger "
            + "than block-size data. The key needs to be hashed before being used by the HMAC algorithm.").utf8),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test(arguments: 0..<rfc4231.count)
    func rfc4231Vectors(index: Int) {
        let vector = Self.rfc4231[index]
        #expect(HMACSHA256.authenticationCode(for: vector.message, key: vector.key) == [UInt8](hex: vector.code))
    }

    @Test func agreesWithSwiftCryptosHMACForEveryKeyLengthAroundTheBlock() {
        var random = SeededRandom(seed: 0x4841_4D43)
        for keyLength in 0...140 {
            let key = (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &random) }
            let message = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let expected = Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
            #expect(HMACSHA256.authenticationCode(for: message, key: key) == expected, "key length \(keyLength)")
            // Fed in two parts, and from a copy taken before the data: the same code.
            let split = message.count / 3
            let keyed = HMACSHA256(key: key)
            var parts = keyed
            parts.update(Array(message[..<split]))
            parts.update(Array(message[split...]))
            #expect(parts.finalize() == expected)
            var again = keyed
            again.update(message)
            #expect(again.finalize() == expected)
        }
    }
}
