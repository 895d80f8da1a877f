import Foundation
import Logging
import Messaging
import WAClient
import WAWire

/// One device's receive path in the pool: the shared pipeline over the device's protocol store, with
/// the pool's metrics and logs. Built from the credentials it was made with, so the actor rebuilds it
/// when they change (a LID learned at login).
struct DeviceReceiver: Sendable {
    let credentials: DeviceCredentials
    let pipeline: InboundPipeline
    let metrics: ReceiveMetrics

    /// Nil for credentials that are not paired.
    init?(credentials: DeviceCredentials, store: any ProtocolStore, metrics: ReceiveMetrics) {
        guard let device = LocalDevice(credentials: credentials) else {
            return nil
        }
        self.credentials = credentials
        pipeline = InboundPipeline(store: store, device: device)
        self.metrics = metrics
    }

    /// Loads, decrypts and commits one stanza; returns the answers to send. Throws when the store
    /// failed: then nothing may be sent.
    func receive(_ node: Node, now: @Sendable () -> Date, logger: Logger) async throws -> [Node] {
        var generator = SystemRandomNumberGenerator()
        let result = try await pipeline.receive(node, using: &generator)
        let report = result.report
        metrics.record(report, committedAt: now())
        let id = node.attribute("id") ?? "-"
        switch report.disposition {
        case .decryptFailed(let reason):
            logger.notice("a message did not decrypt", metadata: [
                "id": "\(id)", "reason": "\(reason)", "retry": "\(report.retryReceipt.map(String.init) ?? "none")",
            ])
        case .refused(let code):
            logger.notice("a stanza was refused", metadata: ["tag": "\(report.tag)", "id": "\(id)", "nack": "\(code)"])
        default:
            break
        }
        for change in report.identityChanges {
            logger.info("a contact's identity changed", metadata: [
                "previous": "\(change.previousFingerprint)", "new": "\(change.newFingerprint ?? "forgotten")",
            ])
        }
        return result.answers
    }
}
