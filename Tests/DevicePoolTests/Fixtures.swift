import DevicePool
import Foundation
import WAClient

/// A deterministic generator so jittered delays are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func reason(_ category: DisconnectReason.Category, stage: DisconnectReason.Stage = .stream, code: Int? = nil,
            banUntil: Date? = nil) -> DisconnectReason {
    DisconnectReason(stage: stage, category: category, code: code, detail: "test", banExpiresAt: banUntil)
}

let t0 = Date(timeIntervalSince1970: 1_800_000_000)

extension DeviceStateMachine.Outcome {
    var actions: [DeviceStateMachine.Action] {
        if case .applied(let actions) = self { return actions }
        return []
    }
    var transition: DeviceStateMachine.Transition? {
        for case .persist(let transition) in actions { return transition }
        return nil
    }
    var isRejected: Bool {
        if case .rejected = self { return true }
        return false
    }
}
