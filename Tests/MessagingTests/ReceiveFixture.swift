import DevicePool
import Foundation
import Messaging
import PairgateTestSupport
import Signal
import WAClient
import WAWire

/// Our linked device (real keys), its pipeline over a memory store, and the people who write to it.
struct ReceiveFixture {
    static let ownPhoneNumber = "15550001111"
    static let ownLID = "900000000000001"
    static let group = JID(user: "120363012345678901", server: .group)

    let credentials: DeviceCredentials
    let device: LocalDevice
    let store = MemoryProtocolStore()
    let pipeline: InboundPipeline
    var generator = SeededRandom(seed: 99)

    init(seed: UInt64 = 1) {
        credentials = .pairedForTests(phoneNumber: Self.ownPhoneNumber, lid: Self.ownLID, seed: seed)
        device = LocalDevice(credentials: credentials)!
        pipeline = InboundPipeline(store: store, device: device)
    }

    /// Ann, writing from her phone (device 0).
    static func ann(seed: UInt64 = 11) -> TestContact {
        TestContact(phoneNumber: "15551234567", lid: "123456789012345", seed: seed)
    }

    /// Bob, writing from a companion (device 2).
    static func bob(seed: UInt64 = 12) -> TestContact {
        TestContact(phoneNumber: "15557654321", lid: "543210987654321", device: 2, seed: seed)
    }

    /// Our own phone: device 0 of our account.
    static func ownPhone(seed: UInt64 = 13) -> TestContact {
        TestContact(phoneNumber: ownPhoneNumber, lid: ownLID, seed: seed)
    }

    mutating func receive(_ node: Node) async throws -> InboundResult {
        try await pipeline.receive(node, using: &generator)
    }

    /// Our own device's JIDs.
    static var ownPhoneNumberJID: JID { JID(user: ownPhoneNumber, server: .whatsApp) }
}

extension InboundResult {
    /// The answers' tags with their `type` or `class`, e.g. `receipt:inactive`, `ack:message`.
    var summary: [String] {
        answers.map { node in
            let detail = node.tag == "ack" ? node.attribute("class") : node.attribute("type")
            let error = node.attribute("error").map { "!\($0)" } ?? ""
            return "\(node.tag):\(detail ?? "-")\(error)"
        }
    }
}

extension Node {
    /// What the wire makes of this node: encoded and decoded again.
    var onTheWire: Node {
        get throws { try NodeDecoder().decode(frame: NodeEncoder.encode(self)) }
    }
}
