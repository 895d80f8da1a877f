import Signal
import WAWire

extension InboundProcessor {
    /// An identity notification names a user: its phone-number or LID form, and the other form once a
    /// stored mapping tells it.
    func requirements(for notification: IncomingNotification, given state: ProtocolState) -> StateRequest {
        var request = StateRequest()
        guard case .identityChange = notification.payload else {
            return request
        }
        let user = notification.from.userJID
        request.names.insert(SignalAddress(user).name)
        switch user.server {
        case .whatsApp:
            request.phoneNumbers.insert(user.user)
            if let lid = state.lidByPhoneNumber[user.user] {
                request.names.insert(SignalAddress(JID(user: lid, server: .lid)).name)
            }
        case .lid:
            request.lids.insert(user.user)
            if let phoneNumber = state.phoneNumberByLID[user.user] {
                request.names.insert(SignalAddress(JID(user: phoneNumber, server: .whatsApp)).name)
            }
        default:
            break
        }
        return request
    }

    /// `encrypt` with `<identity/>` (the user reinstalled, messaging.md §10): every session and identity
    /// of the user, under both of its names, is deleted and each forgotten identity recorded; then the
    /// ack. `devices` and `account_sync` drop the cached device lists they change (messaging.md §7.2),
    /// `w:gp2` a group's cached member list, then the ack.
    func process(_ notification: IncomingNotification, state: ProtocolState) -> InboundOutcome {
        var outcome = InboundOutcome(report: InboundReport(tag: "notification"))
        if case .identityChange = notification.payload {
            let names = requirements(for: notification, given: state).names
            for address in state.sessions.keys where names.contains(address.name) {
                outcome.changes.deletedSessions.insert(address)
            }
            for (address, key) in state.identities where names.contains(address.name) {
                outcome.changes.deletedIdentities.insert(address)
                outcome.changes.identityChanges.append(ProtocolChanges.IdentityChange(
                    address: address, previousFingerprint: IdentityFingerprint.of(key), newFingerprint: nil
                ))
            }
            outcome.changes.identityChanges.sort { $0.address.description < $1.address.description }
            outcome.report.identityChanges = outcome.changes.identityChanges
        }
        switch notification.payload {
        case .devices(_, let lid):
            outcome.changes.forgottenDeviceLists = Set([notification.from.userJID.description] + (lid.map { [$0.userJID.description] } ?? []))
        case .ownDevices:
            let account = device.account
            outcome.changes.forgottenDeviceLists = Set([account.phoneNumber.userJID.description] + (account.lid.map { [$0.userJID.description] } ?? []))
        case .other where notification.type == "w:gp2" && notification.from.isGroup:
            // A group changed (members added or removed, …): its cached member list is dropped, and the
            // next send asks for it again (messaging.md §9.1; whatsmeow patches its cache instead).
            outcome.changes.forgottenDeviceLists = [notification.from.userJID.description]
        default:
            break
        }
        outcome.answers = [.node(notification.envelope.ack())]
        return outcome
    }
}
