import Foundation
import WAWire

/// Binary-node encode and decode rates for the stanzas a device connection handles most.
public enum NodeBenchmark {
    /// Encodes and decodes each stanza for at least `minimumDuration`, after a warm-up; reports ops/s
    /// for both directions and the encoded size.
    public static func run(minimumDuration: Duration = .milliseconds(500)) throws -> [WireBenchResult.Figure] {
        var figures: [WireBenchResult.Figure] = []
        for (name, node) in stanzas {
            let frame = try NodeEncoder.encode(node)
            let decoder = NodeDecoder()
            let encodeRate = try rate(minimumDuration: minimumDuration) {
                _ = try NodeEncoder.encode(node)
            }
            let decodeRate = try rate(minimumDuration: minimumDuration) {
                _ = try decoder.decode(frame: frame)
            }
            // Connections decode the Data the transport decrypts into, read in place.
            let frameData = Data(frame)
            let dataDecodeRate = try rate(minimumDuration: minimumDuration) {
                _ = try decoder.decode(frame: frameData)
            }
            figures += [
                .init(name: "node.encode.\(name)", value: encodeRate, unit: "ops/s"),
                .init(name: "node.decode.\(name)", value: decodeRate, unit: "ops/s"),
                .init(name: "node.decode_data.\(name)", value: dataDecodeRate, unit: "ops/s"),
                .init(name: "node.size.\(name)", value: Double(frame.count), unit: "bytes"),
            ]
        }
        return figures
    }

    /// The stanzas measured, shaped like the real ones (binary contents are filler of the real sizes).
    static let stanzas: [(String, Node)] = [
        ("keepalive_iq", Node("iq", ["id": "123.45-1", "xmlns": "w:p", "type": "get", "to": .server])),
        ("pair_device_6_refs", Node("iq", ["from": .server, "type": "set", "id": "1234567890", "xmlns": "md"], [
            Node("pair-device", (0..<6).map { Node("ref", bytes: filler(88, seed: $0)) }),
        ])),
        ("pair_success", Node("iq", ["from": .server, "type": "set", "id": "1234567891", "xmlns": "md"], [
            Node("pair-success", [
                Node("device-identity", ["key-index": "1"], bytes: filler(230, seed: 1)),
                Node("device", [
                    "jid": .jid(JID(user: "5511999998888", device: 7, server: .whatsApp)),
                    "lid": .jid(JID(user: "123456789012345", device: 7, server: .lid)),
                ]),
                Node("biz", ["name": "Acme Store"]),
                Node("platform", ["name": "android"]),
            ]),
        ])),
        ("prekey_upload_812", Node("iq", ["id": "123.45-3", "xmlns": "encrypt", "type": "set", "to": .server], [
            Node("registration", bytes: filler(4, seed: 2)),
            Node("type", bytes: [0x05]),
            Node("identity", bytes: filler(32, seed: 3)),
            Node("list", (1...812).map { id in
                Node("key", [
                    Node("id", bytes: [UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)]),
                    Node("value", bytes: filler(32, seed: id)),
                ])
            }),
            Node("skey", [
                Node("id", bytes: [0, 0, 1]),
                Node("value", bytes: filler(32, seed: 4)),
                Node("signature", bytes: filler(64, seed: 5)),
            ]),
        ])),
    ]

    private static func filler(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7) }
    }

    private static func rate(minimumDuration: Duration, _ operation: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        for _ in 0..<100 {
            try operation()
        }
        var count = 0
        var batch = 16
        let start = clock.now
        while true {
            for _ in 0..<batch {
                try operation()
            }
            count += batch
            let elapsed = start.duration(to: clock.now)
            if elapsed >= minimumDuration {
                return Double(count) / elapsed.seconds
            }
            batch = min(batch * 2, 65_536)
        }
    }
}
