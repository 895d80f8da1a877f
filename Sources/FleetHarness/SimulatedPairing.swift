import Foundation
import WASim
import WAWire

/// A device paired through a gateway's API and the simulator's phone.
public struct PairedDevice: Sendable, Hashable {
    public var tenant: GatewayClient.Tenant
    public var deviceID: UUID
    /// Its JID on the simulator (`phone:n@s.whatsapp.net`).
    public var jid: String
    /// From POST /pair to the phone seeing the companion linked.
    public var milliseconds: Double
}

extension GatewayClient {
    /// POST /pair for a QR, then the simulator's phone `phone` scans the QR it returned; returns
    /// once the phone saw the companion linked (the device then logs in after the 515 by itself).
    /// nil when the tenant is busy or rate limited (409, 429): try again a little later. A
    /// pairing whose first QR did not come within `http.first_code_wait_ms` is cancelled (it
    /// would hold the tenant's pairing lock for its whole window) and reported as an error.
    public func pairByQR(_ tenant: Tenant, phone: String, simulator: Simulator, name: String? = nil) async throws -> PairedDevice? {
        let start = ContinuousClock.now
        guard let pairing = try await pairQR(tenant, name: name) else { return nil }
        guard let qr = pairing.qr, let device = UUID(uuidString: pairing.deviceID) else {
            _ = try? await reset(tenant, deviceID: pairing.deviceID, mode: "soft")
            throw FleetHarnessError("POST /pair gave no QR within http.first_code_wait_ms; the pairing was cancelled")
        }
        guard case .linked(let info) = try await simulator.scan(qr: qr, phone: phone) else {
            throw FleetHarnessError("the simulator asked for a refreshed QR (refreshOnScan); pair without it")
        }
        let milliseconds = (ContinuousClock.now - start).seconds * 1000
        return PairedDevice(tenant: tenant, deviceID: device, jid: info.jid, milliseconds: milliseconds)
    }
}
