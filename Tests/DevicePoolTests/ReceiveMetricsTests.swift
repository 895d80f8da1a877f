@testable import DevicePool
import Foundation
import Messaging
import MetricsTestKit
import Testing
import WAWire

/// The receive metrics docs/api.md lists, as the pool records each handled stanza.
@Suite struct ReceiveMetricsTests {
    static func report(_ tag: String, _ disposition: InboundReport.Disposition, type: String? = nil, retry: Int? = nil) -> InboundReport {
        var report = InboundReport(tag: tag)
        report.disposition = disposition
        report.messageType = type
        report.retryReceipt = retry
        report.sentAt = Date(timeIntervalSince1970: 1_760_000_000)
        return report
    }

    @Test func storedMessagesAreCountedByTypeWithTheirLag() throws {
        let factory = TestMetrics()
        let metrics = ReceiveMetrics(factory: factory)
        metrics.record(Self.report("message", .stored, type: "text"), committedAt: Date(timeIntervalSince1970: 1_760_000_003))
        metrics.record(Self.report("message", .acknowledged, type: "status"), committedAt: Date())
        // A server clock ahead of ours is no negative lag.
        metrics.record(Self.report("message", .stored, type: "text"), committedAt: Date(timeIntervalSince1970: 1_759_999_999))
        #expect(try factory.expectCounter(ReceiveMetrics.receivedName, [("type", "text")]).values == [1, 1])
        #expect(try factory.expectCounter(ReceiveMetrics.receivedName, [("type", "status")]).values == [1])
        #expect(try factory.expectTimer(ReceiveMetrics.inboxLagName).values == [3_000_000_000, 0])
    }

    @Test func failuresDuplicatesAndRetryReceiptsAreCounted() throws {
        let factory = TestMetrics()
        let metrics = ReceiveMetrics(factory: factory)
        metrics.record(Self.report("message", .decryptFailed(reason: "invalid_mac"), retry: 1), committedAt: Date())
        metrics.record(Self.report("message", .decryptFailed(reason: "invalid_mac")), committedAt: Date())
        metrics.record(Self.report("message", .refused(.invalidProtobuf)), committedAt: Date())
        metrics.record(Self.report("message", .duplicate), committedAt: Date())
        metrics.record(Self.report("receipt", .acknowledged), committedAt: Date())
        metrics.commitFailed()
        #expect(try factory.expectCounter(ReceiveMetrics.decryptFailuresName, [("reason", "invalid_mac")]).values == [1, 1])
        #expect(try factory.expectCounter(ReceiveMetrics.decryptFailuresName, [("reason", "invalid_protobuf")]).values == [1])
        #expect(try factory.expectCounter(ReceiveMetrics.retryReceiptsName).values == [1])
        #expect(try factory.expectCounter(ReceiveMetrics.duplicatesName).values == [1])
        #expect(try factory.expectCounter(ReceiveMetrics.commitFailuresName).values == [1])
        // A receipt is no received message.
        #expect(throws: (any Error).self) { try factory.expectCounter(ReceiveMetrics.receivedName, [("type", "unknown")]) }
    }
}
