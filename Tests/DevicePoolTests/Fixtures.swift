import DevicePool
import Foundation
import WAClient

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
