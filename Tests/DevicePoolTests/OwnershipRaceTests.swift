@testable import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient

/// The supervisor takes a device's lease once per actor: a reset racing a claim, a reset that
/// cannot start its actor, devices whose credentials cannot be read and the claim loop's paging.
@Suite("Ownership races", .requiresDatabase, .timeLimit(.minutes(2)))
struct OwnershipRaceTests {
    @Test func aResetRacingAClaimWaitsForItInsteadOfTakingTheLeaseAgain() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            let device = deviceID(1), jid = "15551230201:2@s.whatsapp.net"
            try await h.seedPairedDevice(device, jid: jid, sealedBy: h.sealer)
            let epoch = try await h.lease(device).epoch
            // The claim loop's first lease acquisition will wait for this row.
            let held = try await HeldTransaction.begin(url: pool.configuration.url) { connection in
                try connection.query("SELECT 1 FROM devices WHERE id = $1 FOR UPDATE", [device])
            }
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                let reset: Task<ResetResult, any Error>
                do {
                    try await eventually("the claim waits for the row") { try await HeldTransaction.lockWaiters(pool) == 1 }
                    reset = Task { try await h.supervisor.reset(deviceID: device, mode: .soft) }
                    // The reset either takes the lease itself (a second waiter on the row) or waits
                    // for the claim's actor to start.
                    try await eventually("the reset waits") {
                        if h.supervisor.slotWaiters(device) > 0 { return true }
                        return try await HeldTransaction.lockWaiters(pool) == 2
                    }
                    try await held.commit()
                } catch {
                    try? await held.commit()
                    throw error
                }
                // The claim's actor was connecting already: the soft reset reconnects it.
                #expect(try await reset.value == .unchanged(.connecting))
                let claimed = try #require(await sessions.next())
                let afterReset = try #require(await sessions.next())
                #expect(claimed.closeReason?.detail == "soft reset")
                afterReset.emit(.online(OnlineInfo(jid: jid, lid: nil, serverTimeOffset: .zero)))
                // The actor's writes pass the fence: the lease was taken once, by the claim.
                try await eventually("online") { try await h.state(device) == .online }
                let lease = try await h.lease(device)
                #expect(lease.owner == "a")
                #expect(lease.epoch == epoch + 1)
            }
        }
    }

    @Test func aResetThatCannotStartItsActorLeavesTheLeaseFree() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            let device = deviceID(2)
            try await h.seedPairedDevice(device, jid: "15551230202:2@s.whatsapp.net", sealedBy: h.sealer)
            try await h.running {
                // Claimed at start; then the supervisor shuts down and the device is released.
                var sessions = h.upstream.sessions.makeAsyncIterator()
                _ = try #require(await sessions.next())
            }
            #expect(try await h.lease(device).owner == nil)
            let error = await #expect(throws: SupervisorError.self) { _ = try await h.supervisor.reset(deviceID: device, mode: .soft) }
            #expect(error?.code == .shuttingDown)
            #expect(try await h.lease(device).owner == nil)
        }
    }

    @Test func unreadableCredentialsSuspendTheDeviceOnceInsteadOfReclaimingIt() async throws {
        try await withPoolDatabase { pool, tenant in
            let lost = CredentialSealer(current: try MasterKey(parsing: MasterKey.generate(id: "lost")))
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            let device = deviceID(3)
            try await h.seedPairedDevice(device, jid: "15551230203:2@s.whatsapp.net", sealedBy: lost)
            try await h.running {
                try await eventually("suspended") { try await h.state(device) == .suspended(.credentialsUnreadable) }
                let held = try await h.lease(device)
                #expect(held.owner == "a")
                // Claim intervals and renewals pass: the device is held, not released and claimed again.
                for _ in 0..<4 {
                    let expires = try await h.store.device(device)?.leaseExpiresAt
                    h.clock.advance(by: h.supervisor.configuration.renewInterval)
                    try await eventually("renewed") { try await h.store.device(device)?.leaseExpiresAt != expires }
                }
                let later = try await h.lease(device)
                #expect(later.owner == "a")
                #expect(later.epoch == held.epoch)
                #expect(h.upstream.sessionCount == 0)
                #expect(try await h.history(device) == ["paired>suspended"])
            }
            // With the key back in the configuration, the device comes back by itself.
            let fixed = PoolHarness.make(pool: pool, tenant: tenant, instance: "b", sealer: CredentialSealer(current: h.sealer.current, previous: [lost.current]))
            try await fixed.running {
                var sessions = fixed.upstream.sessions.makeAsyncIterator()
                let login = try #require(await sessions.next())
                #expect(login.intent == .login)
                try await eventually("connecting") { try await fixed.state(device) == .connecting }
            }
        }
    }

    @Test func credentialsSealedForAnotherTenantSuspendTheDeviceAndSpareTheOthers() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            // A row copied from another tenant, or a device moved to this one by hand: same key,
            // same device id and kind, another tenant in the associated data.
            let moved = deviceID(4), kept = deviceID(5)
            try await h.seedPairedDevice(moved, jid: "15551230204:2@s.whatsapp.net", sealedBy: h.sealer, sealedFor: UUID())
            try await h.seedPairedDevice(kept, jid: "15551230205:2@s.whatsapp.net", sealedBy: h.sealer)
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                try await h.advancing("the device of this tenant connecting") { h.upstream.sessionCount == 1 }
                let login = try #require(await sessions.next())
                #expect(login.credentials.account?.jid == "15551230205:2@s.whatsapp.net")
                try await eventually("suspended") { try await h.state(moved) == .suspended(.credentialsUnreadable) }
                #expect(h.upstream.sessionCount == 1)
            }
        }
    }

    @Test func devicesWithUnreadableCredentialsDoNotStarveTheClaimLoop() async throws {
        try await withPoolDatabase { pool, tenant in
            let lost = CredentialSealer(current: try MasterKey(parsing: MasterKey.generate(id: "lost")))
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a") { $0.claimBatchSize = 2 }
            // The lowest ids fill a whole claim batch and cannot be read.
            try await h.seedPairedDevice(deviceID(10), jid: "15551230210:2@s.whatsapp.net", sealedBy: lost)
            try await h.seedPairedDevice(deviceID(11), jid: "15551230211:2@s.whatsapp.net", sealedBy: lost)
            try await h.seedPairedDevice(deviceID(12), jid: "15551230212:2@s.whatsapp.net", sealedBy: h.sealer)
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                try await h.advancing("the readable device connecting") { h.upstream.sessionCount == 1 }
                let login = try #require(await sessions.next())
                #expect(login.credentials.account?.jid == "15551230212:2@s.whatsapp.net")
            }
        }
    }

    @Test func theClaimLoopPagesPastDevicesItSkips() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a") {
                $0.claimBatchSize = 2
                $0.claimInterval = .seconds(1)
            }
            try await h.seedPairedDevice(deviceID(20), jid: "15551230220:2@s.whatsapp.net", sealedBy: h.sealer)
            try await h.seedPairedDevice(deviceID(21), jid: "15551230221:2@s.whatsapp.net", sealedBy: h.sealer)
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                try await h.advancing("both devices connecting") { h.upstream.sessionCount == 2 }
                _ = try #require(await sessions.next())
                _ = try #require(await sessions.next())
                // Both run here, yet their leases look free in the database (as between a lost
                // renewal and the actor's deadline): a whole batch of ids the loop skips.
                try await pool.query("UPDATE devices SET lease_expires_at = now() - interval '1 second' WHERE id = ANY($1)",
                                     [PostgresArray([deviceID(20), deviceID(21)])])
                try await h.seedPairedDevice(deviceID(22), jid: "15551230222:2@s.whatsapp.net", sealedBy: h.sealer)
                h.clock.advance(by: .seconds(1))
                try await h.advancing("the third device connecting") { h.upstream.sessionCount == 3 }
                let third = try #require(await sessions.next())
                #expect(third.credentials.account?.jid == "15551230222:2@s.whatsapp.net")
            }
        }
    }
}
