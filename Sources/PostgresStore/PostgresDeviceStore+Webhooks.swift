import DevicePool
import Foundation
import PostgresClient
import WAClient
import Webhooks

/// The webhook events of the device store's changes, each written by the transaction of its
/// change (`WebhookOutbox`): `device.state` for every real transition, `device.logged_out` on
/// entering `logged_out`, `pairing.updated` for each new code and `pairing.ended` once per pairing.
extension PostgresDeviceStore {
    /// `device.state`, and `device.logged_out` when the device entered `logged_out`. `row` holds
    /// the device's tenant_id and jid and the history row's time (`at`).
    static func emitTransition(
        _ transition: DeviceStateMachine.Transition, deviceID: UUID, row: PostgresRow, on connection: PostgresConnection
    ) throws {
        let tenantID: UUID = try row.decode("tenant_id")
        let at: Date = try row.decode("at")
        try WebhookOutbox.emit(.deviceState(DeviceStateChanged(transition)), tenantID: tenantID, deviceID: deviceID, at: at, on: connection)
        if case .loggedOut(let reason) = transition.to, transition.from.kind != .loggedOut {
            let data = DeviceLoggedOut(
                reason: reason == "reset" ? "reset" : "logged_out", detail: transition.disconnect?.detail,
                number: DeviceLoggedOut.maskedNumber(jid: try row.decode("jid"))
            )
            try WebhookOutbox.emit(.deviceLoggedOut(data), tenantID: tenantID, deviceID: deviceID, at: at, on: connection)
        }
    }

    /// `pairing.updated`; `row` is the session after counting the code (qr_count is its sequence).
    static func emitPairingUpdated(_ row: PostgresRow, pairingID: UUID, expiresAt: Date, on connection: PostgresConnection) throws {
        let data = PairingUpdated(
            pairingID: pairingID, method: try method(row), sequence: try row.decode("qr_count"),
            expiresAt: expiresAt, pairingExpiresAt: try row.decode("deadline")
        )
        try WebhookOutbox.emit(
            .pairingUpdated(data), tenantID: try row.decode("tenant_id"), deviceID: try row.decode("device_id"), at: try row.decode("at"),
            on: connection
        )
    }

    /// `pairing.ended`; `row` is the session as it was ended.
    static func emitPairingEnded(
        _ row: PostgresRow, pairingID: UUID, outcome: PairingOutcome, detail: String?, on connection: PostgresConnection
    ) throws {
        let data = PairingEnded(pairingID: pairingID, method: try method(row), outcome: PairingEnded.Outcome(outcome), detail: detail)
        try WebhookOutbox.emit(
            .pairingEnded(data), tenantID: try row.decode("tenant_id"), deviceID: try row.decode("device_id"), at: try row.decode("ended_at"),
            on: connection
        )
    }

    /// A pairing the sweeper ended: `device.state` pairing → unpaired when it released the
    /// device (as the owner would have, first), then `pairing.ended` with `interrupted`.
    static func emitInterruptedPairing(_ row: PostgresRow, on connection: PostgresConnection) throws {
        let tenantID: UUID = try row.decode("tenant_id"), deviceID: UUID = try row.decode("device_id")
        if try row.decode("released", as: Bool.self) {
            let data = DeviceStateChanged(
                from: DeviceState.Kind.pairing.rawValue, to: DeviceState.Kind.unpaired.rawValue, stateReason: nil,
                reason: "pairing_interrupted", decision: nil, nextAttemptAt: nil
            )
            try WebhookOutbox.emit(.deviceState(data), tenantID: tenantID, deviceID: deviceID, at: try row.decode("ended_at"), on: connection)
        }
        try emitPairingEnded(row, pairingID: try row.decode("id"), outcome: .interrupted, detail: try row.decode("detail"), on: connection)
    }

    private static func method(_ row: PostgresRow) throws -> Webhooks.PairingMethod {
        Webhooks.PairingMethod(rawValue: try row.decode("method")) ?? .qr
    }
}

extension DeviceStateChanged {
    /// The event of one transition of the state machine.
    init(_ transition: DeviceStateMachine.Transition) {
        self.init(
            from: transition.from.kind.rawValue, to: transition.to.kind.rawValue, stateReason: transition.to.reason,
            reason: transition.reason, decision: transition.decision?.description, nextAttemptAt: transition.to.nextAttemptAt
        )
    }
}

extension PairingEnded.Outcome {
    init(_ outcome: PairingOutcome) {
        switch outcome {
        case .paired: self = .paired
        case .timeout: self = .timeout
        case .cancelled: self = .cancelled
        case .failed: self = .failed
        case .interrupted: self = .interrupted
        }
    }
}
