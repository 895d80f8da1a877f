import Testing
import WAWire

/// Random and mutated streams through FrameReader: never a crash, exact frames for intact streams.
@Suite struct FrameFuzzTests {
    typealias Kit = CryptoTestKit

    @Test func randomAndMutatedStreamsNeverCrash() async throws {
        var generator = SeededRandom(seed: 0xF022_3000)
        var intactStreams = 0
        for step in 0..<100_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let intro: FrameReader.Intro
            switch generator.next() % 3 {
            case 0: intro = .none
            case 1: intro = .required(allowsRoutingPrefix: false)
            default: intro = .required(allowsRoutingPrefix: true)
            }
            let maximum = Int(generator.next() % 64)
            var reader = FrameReader(maximumFrameSize: maximum, intro: intro, maximumRoutingInfoSize: 8)

            var stream: [UInt8]
            var bodies: [[UInt8]] = []
            var intact = false
            var routingRefused = false
            if generator.next() % 3 == 0 {
                stream = generator.bytes(Int(generator.next() % 80))
            } else {
                let routed = intro != .none && generator.next() % 2 == 0
                routingRefused = routed && intro == .required(allowsRoutingPrefix: false)
                var writer = routed ? try FrameWriter(routingInfo: generator.bytes(Int(generator.next() % 9))) : FrameWriter()
                stream = []
                for _ in 0..<(generator.next() % 4) {
                    let body = generator.bytes(Int(generator.next() % 70))
                    bodies.append(body)
                    stream += try writer.encode(body)
                }
                if intro == .none {
                    stream.removeFirst(min(4, stream.count))
                }
                intact = generator.next() % 2 == 0
                if !intact, !stream.isEmpty {
                    let position = Int(generator.next() % UInt64(stream.count))
                    switch generator.next() % 3 {
                    case 0: stream[position] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
                    case 1: stream.remove(at: position)
                    default: stream.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                    }
                }
            }

            var frames: [[UInt8]] = []
            var failed = false
            var offset = 0
            while offset < stream.count, !failed {
                let size = min(1 + Int(generator.next() % 20), stream.count - offset)
                do {
                    try reader.append(Array(stream[offset..<(offset + size)]))
                    while let frame = try reader.nextFrame() {
                        frames.append(frame)
                    }
                } catch {
                    failed = true
                }
                offset += size
            }
            #expect(reader.bufferedByteCount <= stream.count)
            if intact {
                intactStreams += 1
                if routingRefused, !bodies.isEmpty {
                    #expect(failed)
                } else if bodies.allSatisfy({ $0.count <= maximum }) {
                    #expect(frames == bodies)
                    #expect(!failed)
                } else {
                    #expect(failed)
                }
            }
        }
        #expect(intactStreams > 10_000)
    }
}
