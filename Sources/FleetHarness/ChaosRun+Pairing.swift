import WASim

extension ChaosRun {
    /// Pairs `options.devices` devices through POST /pair and the simulator's phone, one pairing at a
    /// time per tenant and up to 16 tenants at once.
    func pairAll(tenants: [(GatewayClient.Tenant, String)], fleet: GatewayFleet, simulator: Simulator) async throws -> [PairedDevice] {
        let perTenant = (0..<tenants.count).map { index in options.devices / tenants.count + (index < options.devices % tenants.count ? 1 : 0) }
        return try await withThrowingTaskGroup(of: [PairedDevice].self) { group in
            var next = 0
            var results: [PairedDevice] = []
            func add() {
                let (tenant, phone) = tenants[next]
                let count = perTenant[next]
                group.addTask { try await self.pair(count, tenant: tenant, phone: phone, fleet: fleet, simulator: simulator) }
                next += 1
            }
            while next < min(16, tenants.count) { add() }
            while let finished = try await group.next() {
                results += finished
                if next < tenants.count { add() }
            }
            return results
        }
    }

    private func pair(_ count: Int, tenant: GatewayClient.Tenant, phone: String, fleet: GatewayFleet, simulator: Simulator) async throws -> [PairedDevice] {
        var paired: [PairedDevice] = []
        var failures = 0
        while paired.count < count {
            do {
                guard let device = try await fleet.client().pairByQR(tenant, phone: phone, simulator: simulator, name: "device \(paired.count)") else {
                    // The previous pairing's end is not visible yet (409), or the bucket is empty (429).
                    try await Task.sleep(for: .milliseconds(100))
                    continue
                }
                paired.append(device)
            } catch {
                failures += 1
                if failures > 5 { throw FleetHarnessError("pairing for \(tenant.host) keeps failing: \(error)") }
                say("pairing for \(tenant.host) failed (\(error)); again")
                try await Task.sleep(for: .seconds(1))
            }
        }
        return paired
    }
}
