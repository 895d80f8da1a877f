import Testing
@testable import QRCode

@Suite("Data encoding and capacity")
struct DataEncodingTests {
    @Test func helloWorldVersionOneQuartileDataCodewords() {
        let segment = Segment(text: "HELLO WORLD")
        #expect(segment.mode == .alphanumeric)
        let data = QRCode.dataCodewords(for: segment, version: 1, correction: .quartile)
        #expect(data == [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236])
    }

    @Test func helloWorldVersionOneMediumDataAndCorrectionCodewords() {
        let data = QRCode.dataCodewords(for: Segment(text: "HELLO WORLD"), version: 1, correction: .medium)
        #expect(data == [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17])
        let codewords = SymbolTable.interleavedWithCorrection(data, version: 1, correction: .medium)
        #expect(codewords == data + [196, 35, 39, 119, 235, 215, 231, 226, 93, 23])
    }

    @Test func numericModePacksThreeDigitsToTenBits() {
        let segment = Segment(text: "8675309")
        #expect(segment.mode == .numeric)
        // 867 → 1101100011, 530 → 1000010010, 9 → 1001
        #expect(segment.payload.count == 24)
        #expect(segment.payload.bytes == [0b1101_1000, 0b1110_0001, 0b0010_1001])
    }

    @Test func modeIsTheMostCompactSingleMode() {
        #expect(Segment(text: "0123456789").mode == .numeric)
        #expect(Segment(text: "HTTPS://WA.ME/ $%*+-./:").mode == .alphanumeric)
        #expect(Segment(text: "https://wa.me/settings").mode == .byte)
        #expect(Segment(text: "").mode == .byte)
        let accented = Segment(text: "é")
        #expect(accented.mode == .byte)
        #expect(accented.count == 2)
    }

    @Test func bytesAreEncodedInByteModeEvenWhenTheyAreDigits() throws {
        #expect(Segment(bytes: Array("0123".utf8)).mode == .byte)
        let arbitrary = try QRCode.encode(bytes: [0x00, 0xFF, 0x80, 0x0A], correction: .high)
        #expect(arbitrary.version == 1)
        #expect(try QRCode.encode(bytes: []).version == 1)
    }

    @Test func characterCountFieldWidensWithTheVersion() {
        #expect([9, 10, 26, 27].map(EncodingMode.byte.countBits) == [8, 16, 16, 16])
        #expect([9, 10, 26, 27].map(EncodingMode.numeric.countBits) == [10, 12, 12, 14])
        #expect([9, 10, 26, 27].map(EncodingMode.alphanumeric.countBits) == [9, 11, 11, 13])
    }

    /// Data codewords per version and level from the standard's capacity table.
    @Test func dataCodewordCountsMatchTheStandard() {
        let expected: [ErrorCorrection: [Int]] = [
            .low: [19, 34, 55, 80, 108, 136, 156, 194, 232, 274, 324, 370, 428, 461, 523, 589, 647,
                   721, 795, 861, 932, 1006, 1094, 1174, 1276, 1370, 1468, 1531, 1631, 1735, 1843,
                   1955, 2071, 2191, 2306, 2434, 2566, 2702, 2812, 2956],
            .medium: [16, 28, 44, 64, 86, 108, 124, 154, 182, 216, 254, 290, 334, 365, 415, 453, 507,
                      563, 627, 669, 714, 782, 860, 914, 1000, 1062, 1128, 1193, 1267, 1373, 1455,
                      1541, 1631, 1725, 1812, 1914, 1992, 2102, 2216, 2334],
            .quartile: [13, 22, 34, 48, 62, 76, 88, 110, 132, 154, 180, 206, 244, 261, 295, 325, 367,
                        397, 445, 485, 512, 568, 614, 664, 718, 754, 808, 871, 911, 985, 1033, 1115,
                        1171, 1231, 1286, 1354, 1426, 1502, 1582, 1666],
            .high: [9, 16, 26, 36, 46, 60, 66, 86, 100, 122, 140, 158, 180, 197, 223, 253, 283, 313,
                    341, 385, 406, 442, 464, 514, 538, 596, 628, 661, 701, 745, 793, 845, 901, 961,
                    986, 1054, 1096, 1142, 1222, 1276],
        ]
        for correction in ErrorCorrection.allCases {
            let counts = (1...40).map { SymbolTable.dataCodewordCount(version: $0, correction: correction) }
            #expect(counts == expected[correction], "\(correction)")
        }
    }

    @Test func totalCodewordCountsMatchTheStandard() {
        let expected = [26, 44, 70, 100, 134, 172, 196, 242, 292, 346, 404, 466, 532, 581, 655, 733,
                        815, 901, 991, 1085, 1156, 1258, 1364, 1474, 1588, 1706, 1828, 1921, 2051,
                        2185, 2323, 2465, 2611, 2761, 2876, 3034, 3196, 3362, 3532, 3706]
        #expect((1...40).map(SymbolTable.totalCodewordCount) == expected)
    }

    @Test(arguments: [
        (ErrorCorrection.low, 2953), (.medium, 2331), (.quartile, 1663), (.high, 1273),
    ])
    func version40HoldsItsByteCapacityAndNotOneMore(correction: ErrorCorrection, capacity: Int) throws {
        let full = try QRCode.encode(bytes: [UInt8](repeating: 0x61, count: capacity), correction: correction)
        #expect(full.version == 40)
        #expect(full.size == 177)
        let error = #expect(throws: QRCodeError.self) {
            try QRCode.encode(bytes: [UInt8](repeating: 0x61, count: capacity + 1), correction: correction)
        }
        #expect(error?.code == .dataTooLong)
        #expect(error?.length == capacity + 1)
    }

    @Test func version40HoldsItsNumericAndAlphanumericCapacity() throws {
        #expect(try QRCode.encode(String(repeating: "7", count: 7089), correction: .low).version == 40)
        #expect(throws: QRCodeError.self) {
            try QRCode.encode(String(repeating: "7", count: 7090), correction: .low)
        }
        #expect(try QRCode.encode(String(repeating: "Z", count: 4296), correction: .low).version == 40)
        #expect(throws: QRCodeError.self) {
            try QRCode.encode(String(repeating: "Z", count: 4297), correction: .low)
        }
    }

    @Test func oneByteMoreThanCapacityMovesUpAVersion() throws {
        #expect(try QRCode.encode(String(repeating: "a", count: 14)).version == 1)
        #expect(try QRCode.encode(String(repeating: "a", count: 15)).version == 2)
        // 251 bytes is version 11-M's capacity: the largest pairing strings still fit it.
        #expect(try QRCode.encode(String(repeating: "a", count: 251)).version == 11)
        #expect(try QRCode.encode(String(repeating: "a", count: 252)).version == 12)
    }

    @Test func minimumVersionIsHonouredAndValidated() throws {
        #expect(try QRCode.encode("hi", minimumVersion: 9).version == 9)
        for invalid in [0, 41] {
            let error = #expect(throws: QRCodeError.self) { try QRCode.encode("hi", minimumVersion: invalid) }
            #expect(error?.code == .invalidMinimumVersion)
        }
    }

    @Test func errorDescriptionNeverContainsTheInput() {
        let secret = String(repeating: "s3cr3tK3y", count: 400)
        let error = #expect(throws: QRCodeError.self) { try QRCode.encode(secret, correction: .high) }
        let description = error.map(String.init(describing:)) ?? ""
        #expect(description.contains("data_too_long"))
        #expect(!description.contains("s3cr3t"))
    }
}
