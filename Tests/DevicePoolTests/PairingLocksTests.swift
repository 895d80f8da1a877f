import DevicePool
import Foundation
import Testing

@Suite("Pairing locks")
struct PairingLocksTests {
    @Test func aSecondPairingIsRejectedWhileAnotherIsActive() throws {
        let locks = PairingLocks()
        let tenant = UUID()
        let claim = try locks.claim(tenantID: tenant)
        let pairing = UUID(), device = UUID(), expires = Date(timeIntervalSince1970: 2_000_000_000)
        locks.attach(claim, pairingID: pairing, deviceID: device, expiresAt: expires)
        let error = #expect(throws: PairingInProgress.self) { try locks.claim(tenantID: tenant) }
        #expect(error?.pairingID == pairing)
        #expect(error?.expiresAt == expires)
        // Other tenants are unaffected.
        _ = try locks.claim(tenantID: UUID())
        #expect(locks.release(claim))
        _ = try locks.claim(tenantID: tenant)
    }

    @Test func aStaleClaimCannotReleaseANewerPairing() throws {
        let locks = PairingLocks()
        let tenant = UUID()
        let old = try locks.claim(tenantID: tenant)
        #expect(locks.release(old))
        let current = try locks.claim(tenantID: tenant)
        #expect(!locks.release(old))
        #expect(locks.active(tenantID: tenant) != nil)
        #expect(locks.release(current))
    }

    @Test func concurrentClaimsLetExactlyOneThrough() async {
        let locks = PairingLocks()
        let tenant = UUID()
        let winners = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 {
                group.addTask { (try? locks.claim(tenantID: tenant)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
    }
}
