import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Synchronization
import Testing
import WAClient

/// A device's lease has a deadline of its own, on the pool's clock: the upstream connection
/// closes TTL − margin after the last renewal that succeeded was sent, whatever the renewal in
/// flight does. A renewal that hangs is a real PostgreSQL statement waiting for a row another
/// session holds.
@Suite("Lease deadlines", .requiresDatabase, .timeLimit(.minutes(2)))
struct LeaseDeadlineTests {
    @Test func aHangingRenewalDoesNotKeepADeviceConnectedPastItsDeadline() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            let configuration = h.supervisor.configuration
            let deadline = configuration.leaseTTL - configuration.leaseMargin
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                let (device, online) = try await h.onlineDevice(jid: "15551230101:2@s.whatsapp.net", sessions: &sessions)
                try await h.whileRowIsLocked(device) {
                    h.clock.advance(by: configuration.renewInterval)
                    try await eventually("the renewal waits for the row") { try await HeldTransaction.lockWaiters(pool) == 1 }
                    h.clock.advance(by: deadline - configuration.renewInterval - .seconds(1))
                    #expect(online.closeReason == nil)
                    h.clock.advance(by: .seconds(1))
                    try await eventually("the connection closed at the deadline") { online.closeReason != nil }
                    #expect(online.closeReason?.detail == "lease deadline passed without a confirmed renewal")
                    // The renewal is still waiting: the deadline did not depend on it. (The close's
                    // own write of the device row may be waiting beside it by now.)
                    #expect(try await HeldTransaction.lockWaiters(pool) >= 1)
                }
            }
        }
    }

    @Test func aLateRenewalDoesNotResurrectADeviceClosedAtItsDeadline() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            let configuration = h.supervisor.configuration
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                let (device, online) = try await h.onlineDevice(jid: "15551230102:2@s.whatsapp.net", sessions: &sessions)
                let historyBefore = try await h.history(device)
                let disconnectsBefore = try await h.disconnects(device)
                let expiresBefore = try #require(try await h.store.device(device)?.leaseExpiresAt)
                try await h.whileRowIsLocked(device) {
                    h.clock.advance(by: configuration.renewInterval)
                    try await eventually("the renewal waits for the row") { try await HeldTransaction.lockWaiters(pool) == 1 }
                    h.clock.advance(by: configuration.leaseTTL - configuration.leaseMargin - configuration.renewInterval)
                    try await eventually("the connection closed at the deadline") { online.closeReason != nil }
                }
                // The row is free: the renewal that waited goes through, and succeeds (the lease was
                // still held at its epoch) — too late to count.
                try await eventually("the late renewal extended the lease") {
                    try await h.store.device(device)?.leaseExpiresAt ?? .distantPast > expiresBefore
                }
                try await eventually("the device left this instance") { !h.supervisor.ownedDevices.contains(device) }
                // Nothing reconnects it here, and the closed actor wrote nothing: not its own close
                // as a disconnect, not a backoff.
                for _ in 0..<6 { h.clock.advance(by: .seconds(60)) }
                #expect(h.upstream.sessionCount == 2)
                #expect(try await h.history(device) == historyBefore)
                #expect(try await h.disconnects(device) == disconnectsBefore)
            }
        }
    }

    @Test func shutdownEndsWithinItsBoundWhileTheDatabaseHangs() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            let stopped = Flag()
            let supervisor = h.supervisor
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await supervisor.run()
                    stopped.set()
                }
                var sessions = h.upstream.sessions.makeAsyncIterator()
                let (device, online) = try await h.onlineDevice(jid: "15551230103:2@s.whatsapp.net", sessions: &sessions)
                try await h.whileRowIsLocked(device) {
                    h.supervisor.shutdown()
                    // The device's shutdown transition waits for the row, and would for as long as
                    // the database keeps it (here: forever).
                    try await eventually("the shutdown write waits for the row") { try await HeldTransaction.lockWaiters(pool) == 1 }
                    #expect(!stopped.isSet)
                    h.clock.advance(by: h.supervisor.configuration.shutdownTimeout)
                    try await eventually("the pool stopped at its bound") { stopped.isSet }
                    #expect(online.closeReason != nil)
                }
                try await group.waitForAll()
            }
        }
    }
}

/// Set once, read from any task.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
