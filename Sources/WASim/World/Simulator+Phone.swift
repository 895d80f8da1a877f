import Foundation
import Synchronization
import WAWire

/// What a scan did: the companion is linked, or (with `refreshOnScan`) the client was asked to
/// rotate its ADV secret and the re-rendered QR must be scanned again.
public enum ScanOutcome: Sendable, Hashable {
    case linked(LinkedDeviceInfo)
    case refreshSent
}

/// The simulated phone: accounts by phone number, scanning, typing codes, the linked-devices screen.
extension Simulator {
    /// The account of `phone`, created with fresh keys on first use (and saved).
    @discardableResult
    public func phone(_ phone: String) throws(SimulatorError) -> SimAccount {
        let number = try Self.normalizedPhone(phone)
        let (account, created) = try scanState.withLock { _ throws(SimulatorError) -> (SimAccount, Bool) in
            if let account = world.account(phoneNumber: number) {
                return (account, false)
            }
            guard world.contact(phoneNumber: number) == nil else {
                throw SimulatorError(.phoneInUse, detail: "\(number) is a contact of this simulator, not an account")
            }
            var rng = SystemRandomNumberGenerator()
            let account = SimAccount.generate(phoneNumber: number, using: &rng)
            world.addAccount(account)
            return (account, true)
        }
        if created {
            try saveState()
        }
        return account
    }

    /// The phones the simulator knows, by number.
    public var phones: [SimAccount] { world.accounts }

    /// The phone of `phone` (the configured default when nil) scans `qr`, and the call returns once
    /// the companion countersigned pair-success (or at once with `refreshSent`).
    public func scan(qr: String, phone: String? = nil) async throws(SimulatorError) -> ScanOutcome {
        let text = qr.trimmingCharacters(in: .whitespacesAndNewlines)
        let parsed: PairingQR
        do {
            parsed = try PairingQR.parse(text)
        } catch {
            throw SimulatorError(.invalidQR, detail: "not a pairing QR string (\(error.code)); expected \(PairingQR.prefix)ref,noise,identity,adv,platform or the older ref,noise,identity,adv")
        }
        let account = try self.phone(phone ?? configuration.defaultPhone)
        let refreshing = configuration.refreshOnScan && scanState.withLock { $0.refreshedRefs.insert(parsed.ref).inserted }
        let ticket = waiters.register(phone: account.phoneNumber)
        do {
            try world.scan(text, phoneNumber: account.phoneNumber)
        } catch {
            waiters.cancel(ticket)
            if refreshing {
                _ = scanState.withLock { $0.refreshedRefs.remove(parsed.ref) }
            }
            throw Self.phoneError(error)
        }
        if refreshing {
            waiters.cancel(ticket)
            return .refreshSent
        }
        defer {
            if configuration.refreshOnScan {
                _ = scanState.withLock { $0.refreshedRefs.remove(parsed.ref) }
            }
        }
        return .linked(try await linkedDevice(ticket))
    }

    /// The user of `phone` types `code` (`ABCD-EFGH` or `ABCDEFGH`) for the companion that asked for one;
    /// returns once that companion is linked.
    public func enterCode(_ code: String, phone: String) async throws(SimulatorError) -> LinkedDeviceInfo {
        let account = try self.phone(phone)
        let ticket = waiters.register(phone: account.phoneNumber)
        do {
            try world.enterCode(code.trimmingCharacters(in: .whitespacesAndNewlines), phoneNumber: account.phoneNumber)
        } catch {
            waiters.cancel(ticket)
            throw Self.phoneError(error)
        }
        return try await linkedDevice(ticket)
    }

    /// The companions linked to `phone`, in device order.
    public func devices(of phone: String) throws(SimulatorError) -> [LinkedDeviceInfo] {
        let number = try Self.normalizedPhone(phone)
        guard world.account(phoneNumber: number) != nil else {
            throw SimulatorError(.unknownPhone, detail: "no phone \(number) in this simulator")
        }
        return world.devices(phoneNumber: number).sorted { $0.deviceID < $1.deviceID }.map(info(for:))
    }

    /// The phone unlinks device `device`: a live connection gets stream:error 401 device_removed,
    /// later logins `<failure reason="401">`.
    public func unlink(device: UInt16, of phone: String) throws(SimulatorError) {
        let number = try Self.normalizedPhone(phone)
        guard world.unlink(JID(user: number, device: device, server: .whatsApp)) else {
            throw SimulatorError(.unknownDevice, detail: "\(number) has no linked device \(device)")
        }
        try saveState()
    }

    func info(for device: SimLinkedDevice) -> LinkedDeviceInfo {
        LinkedDeviceInfo(
            id: device.deviceID,
            jid: device.jid.description,
            lid: device.lid.description,
            os: device.os,
            linkedAt: device.linkedAt,
            online: !world.loggedInConnections(of: device.jid).isEmpty
        )
    }

    private func linkedDevice(_ ticket: UInt64) async throws(SimulatorError) -> LinkedDeviceInfo {
        let jid = try await waiters.wait(ticket, timeout: configuration.pairingTimeout).get()
        guard let device = world.device(jid) else {
            throw SimulatorError(.pairingRefused, detail: "\(jid) was unlinked again before it could be shown")
        }
        return info(for: device)
    }

    /// Digits only, 7 to 15 of them, no leading zero (E.164 without the plus); separators are dropped.
    static func normalizedPhone(_ text: String) throws(SimulatorError) -> String {
        let digits = text.filter { !" +-().".contains($0) }
        guard (7...15).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0" else {
            throw SimulatorError(.invalidPhoneNumber, detail: "a phone number is 7 to 15 digits in international format without a leading 0, got \(text)")
        }
        return digits
    }

    private static func phoneError(_ error: SimWorldError) -> SimulatorError {
        switch error.code {
        case .invalidQR:
            SimulatorError(.invalidQR, detail: "not a pairing QR string")
        case .unknownRef:
            SimulatorError(.unknownRef, detail: "no connection shows this QR: its ref is unknown, expired or already used")
        case .invalidCode:
            SimulatorError(.invalidCode, detail: "a pairing code is 8 characters of 123456789ABCDEFGHJKLMNPQRSTVWXYZ, optionally as XXXX-XXXX")
        case .noCodePairing:
            SimulatorError(.noPendingCode, detail: "no companion is waiting for a pairing code for this phone number (send companion_hello first)")
        default:
            SimulatorError(.unknownPhone, detail: "\(error)")
        }
    }
}
