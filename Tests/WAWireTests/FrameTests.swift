import Testing
import WAWire

@Suite struct FrameTests {
    typealias Kit = CryptoTestKit

    @Test func theFirstMessageCarriesTheIntroOnce() throws {
        // transport.md §1.4: the ClientHello of the WhatsApp known-answer vector.
        var writer = FrameWriter()
        let body = Kit.bytes("12220a20ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944")
        #expect(Kit.hex(try writer.encode(body))
            == "5741060300002412220a20ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944")
        #expect(try writer.encode([0xAA, 0xBB]) == [0x00, 0x00, 0x02, 0xAA, 0xBB])
        #expect(try writer.encode([]) == [0x00, 0x00, 0x00])
    }

    @Test func routingInfoGoesBeforeTheIntroOfTheFirstMessageOnly() throws {
        var writer = try FrameWriter(routingInfo: [0x08, 0x02, 0x08, 0x05])
        #expect(Kit.hex(try writer.encode([0x01])) == "45440001" + "000004" + "08020805" + "57410603" + "000001" + "01")
        #expect(try writer.encode([0x02]) == [0x00, 0x00, 0x01, 0x02])
    }

    @Test func bodiesOf16MiBOrMoreAreRefused() throws {
        var writer = FrameWriter()
        #expect(throws: FrameError(.frameTooLarge)) {
            try writer.encode([UInt8](repeating: 0, count: FrameWriter.maximumBodySize + 1))
        }
        let largest = try writer.encode([UInt8](repeating: 7, count: FrameWriter.maximumBodySize))
        #expect(Array(largest.prefix(7)) == FrameWriter.intro + [0xFF, 0xFF, 0xFF])
        #expect(throws: FrameError(.routingInfoTooLarge)) {
            try FrameWriter(routingInfo: [UInt8](repeating: 0, count: 1 << 24))
        }
    }

    @Test func severalFramesInOneMessageComeOutInOrder() throws {
        var reader = FrameReader()
        try reader.append([0, 0, 1, 0xA1, 0, 0, 0, 0, 0, 2, 0xB1, 0xB2, 0, 0])
        #expect(try reader.nextFrame() == [0xA1])
        #expect(try reader.nextFrame() == [])
        #expect(try reader.nextFrame() == [0xB1, 0xB2])
        #expect(try reader.nextFrame() == nil)
        #expect(reader.bufferedByteCount == 2)
        try reader.append([3, 1, 2, 3])
        #expect(try reader.nextFrame() == [1, 2, 3])
        #expect(try reader.nextFrame() == nil)
        #expect(reader.bufferedByteCount == 0)
    }

    @Test func framesSplitAtEveryPossibleByteReassemble() throws {
        // transport.md §1.3: whatsmeow loses bytes here; we must not.
        var writer = FrameWriter()
        let bodies: [[UInt8]] = [[1, 2, 3, 4, 5], [], [9, 8, 7]]
        var stream = try writer.encode(bodies[0])
        stream.removeFirst(4)
        stream += try writer.encode(bodies[1]) + writer.encode(bodies[2])
        for first in 0...stream.count {
            for second in first...stream.count {
                var reader = FrameReader()
                var frames: [[UInt8]] = []
                for part in [stream[..<first], stream[first..<second], stream[second...]] {
                    try reader.append(Array(part))
                    while let frame = try reader.nextFrame() {
                        frames.append(frame)
                    }
                }
                #expect(frames == bodies)
            }
        }
    }

    @Test func randomChunkingOfALongStreamReassembles() throws {
        var generator = SeededRandom(seed: 21)
        var writer = FrameWriter()
        var bodies: [[UInt8]] = []
        var stream: [UInt8] = []
        for _ in 0..<2000 {
            let body = generator.bytes(Int(generator.next() % 300))
            bodies.append(body)
            stream += try writer.encode(body)
        }
        var reader = FrameReader(intro: .required(allowsRoutingPrefix: false))
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < stream.count {
            let size = min(Int(generator.next() % 700), stream.count - offset)
            try reader.append(Array(stream[offset..<(offset + size)]))
            offset += size
            while let frame = try reader.nextFrame() {
                frames.append(frame)
            }
        }
        #expect(frames == bodies)
        #expect(reader.bufferedByteCount == 0)
    }

    @Test func aLargeFrameArrivingInSmallPiecesAndManySmallFramesInOneMessage() throws {
        var writer = FrameWriter()
        let big = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let stream = Array(try writer.encode(big).dropFirst(4))
        var reader = FrameReader()
        var offset = 0
        while offset < stream.count {
            let end = min(offset + 1024, stream.count)
            try reader.append(Array(stream[offset..<end]))
            offset = end
            if offset < stream.count {
                #expect(try reader.nextFrame() == nil)
            }
        }
        #expect(try reader.nextFrame() == big)

        var many: [UInt8] = []
        for index in 0..<100_000 {
            many += try writer.encode([UInt8(truncatingIfNeeded: index)])
        }
        try reader.append(many)
        var count = 0
        while let frame = try reader.nextFrame() {
            #expect(frame == [UInt8(truncatingIfNeeded: count)])
            count += 1
        }
        #expect(count == 100_000)
    }

    @Test func oversizeFramesAreRefusedFromTheirLengthAlone() throws {
        var reader = FrameReader(maximumFrameSize: 1000)
        try reader.append([0x00, 0x03, 0xE8] + [UInt8](repeating: 0, count: 10))
        #expect(try reader.nextFrame() == nil)

        var refusing = FrameReader(maximumFrameSize: 1000)
        try refusing.append([0x00, 0x03])
        #expect(throws: FrameError(.frameTooLarge)) { try refusing.append([0xE9]) }
        #expect(refusing.bufferedByteCount == 0)
        // Errors are final.
        #expect(throws: FrameError(.frameTooLarge)) { try refusing.append([0, 0, 0]) }
        #expect(throws: FrameError(.frameTooLarge)) { try refusing.nextFrame() }

        // A later frame of the same message is checked as soon as the earlier one is taken.
        var later = FrameReader(maximumFrameSize: 4)
        try later.append([0, 0, 1, 0x55, 0xFF, 0xFF, 0xFF])
        #expect(throws: FrameError(.frameTooLarge)) { try later.nextFrame() }
    }

    @Test func theServerSideRequiresAndStripsTheIntro() throws {
        var reader = FrameReader(intro: .required(allowsRoutingPrefix: false))
        try reader.append([0x57, 0x41])
        #expect(try reader.nextFrame() == nil)
        try reader.append([0x06, 0x03, 0, 0, 1, 0x42])
        #expect(try reader.nextFrame() == [0x42])
        #expect(reader.routingInfo == nil)

        var wrong = FrameReader(intro: .required(allowsRoutingPrefix: false))
        #expect(throws: FrameError(.invalidIntro)) { try wrong.append([0x57, 0x41, 0x06, 0x02]) }
        var early = FrameReader(intro: .required(allowsRoutingPrefix: false))
        #expect(throws: FrameError(.invalidIntro)) { try early.append([0x00]) }
        var noRouting = FrameReader(intro: .required(allowsRoutingPrefix: false))
        #expect(throws: FrameError(.invalidIntro)) { try noRouting.append([0x45, 0x44, 0x00, 0x01]) }
    }

    @Test func theServerSideReadsAnEDRoutingPrefix() throws {
        var writer = try FrameWriter(routingInfo: [1, 2, 3])
        let message = try writer.encode([0x77])
        for split in 0...message.count {
            var reader = FrameReader(intro: .required(allowsRoutingPrefix: true))
            try reader.append(Array(message[..<split]))
            try reader.append(Array(message[split...]))
            #expect(try reader.nextFrame() == [0x77])
            #expect(reader.routingInfo == [1, 2, 3])
        }
        var plain = FrameReader(intro: .required(allowsRoutingPrefix: true))
        try plain.append(FrameWriter.intro + [0, 0, 0])
        #expect(try plain.nextFrame() == [])
        #expect(plain.routingInfo == nil)

        var tooLong = FrameReader(intro: .required(allowsRoutingPrefix: true), maximumRoutingInfoSize: 2)
        #expect(throws: FrameError(.routingInfoTooLarge)) { try tooLong.append([0x45, 0x44, 0x00, 0x01, 0, 0, 3]) }
        var badVersion = FrameReader(intro: .required(allowsRoutingPrefix: true))
        #expect(throws: FrameError(.invalidIntro)) { try badVersion.append([0x45, 0x44, 0x00, 0x02]) }
        var badIntro = FrameReader(intro: .required(allowsRoutingPrefix: true))
        #expect(throws: FrameError(.invalidIntro)) { try badIntro.append([0x45, 0x44, 0x00, 0x01, 0, 0, 1, 9, 0x57, 0x42]) }
    }
}
