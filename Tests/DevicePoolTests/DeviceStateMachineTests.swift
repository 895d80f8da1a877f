import DevicePool
import Foundation
import Testing
import WAClient
import WAWire

@Suite("Device state machine")
struct DeviceStateMachineTests {
    var random = SeededRandom(seed: 7)

    @Test mutating func qrPairingRunsUnpairedToOnline() {
        var machine = DeviceStateMachine(state: .unpaired, webVersion: "2.3000.1")
        let start = machine.handle(.pairRequested(.qr), now: t0, random: &random)
        #expect(start.actions.contains(.connect(.pair(.qr))))
        #expect(machine.state == .pairing(.qr))
        #expect(machine.handle(.pairingCodeIssued, now: t0, random: &random) == .updated)
        let paired = machine.handle(.paired, now: t0, random: &random)
        #expect(paired.actions.contains(.endPairing(.paired, detail: nil)))
        #expect(machine.state == .paired)
        let restart = machine.handle(.disconnected(reason(.restartRequired, code: 515)), now: t0, random: &random)
        #expect(restart.actions.contains(.connect(.login)))
        #expect(machine.state == .connecting)
        #expect(machine.handle(.loginSucceeded, now: t0, random: &random).transition?.to == .online)
    }

    @Test mutating func aTransitionADisconnectCausedCarriesItAndTheDecisionForItsWebhookEvent() {
        var machine = DeviceStateMachine(state: .online, webVersion: "v")
        let dropped = reason(.network)
        let backoff = machine.handle(.disconnected(dropped), now: t0, random: &random).transition
        #expect(backoff?.disconnect == dropped)
        #expect(backoff?.decision?.description == "backoff")
        let reconnect = machine.handle(.backoffElapsed, now: t0, random: &random).transition
        #expect(reconnect?.to == .connecting)
        #expect(reconnect?.disconnect == nil && reconnect?.decision == nil, "not caused by a disconnect")
        let removed = reason(.loggedOut, code: 401)
        let logout = machine.handle(.disconnected(removed), now: t0, random: &random).transition
        #expect(logout?.to == .loggedOut(reason: "logged_out"))
        #expect((logout?.disconnect, logout?.decision) == (removed, .logOut))
    }

    @Test mutating func aNewQRWhileShowingAQRIsAnUpdateNotATransition() {
        var machine = DeviceStateMachine(state: .pairing(.qr), webVersion: "v")
        for _ in 0..<6 {
            #expect(machine.handle(.pairingCodeIssued, now: t0, random: &random) == .updated)
        }
        #expect(machine.state == .pairing(.qr))
    }

    @Test mutating func invalidEventsAreRejectedAndNeverApplied() {
        let cases: [(DeviceState, DeviceEvent)] = [
            (.unpaired, .loginSucceeded),
            (.online, .pairingCodeIssued),
            (.online, .paired),
            (.paired, .pairRequested(.qr)),
            (.online, .pairRequested(.code(phoneNumber: "15551234567"))),
            (.loggedOut(reason: "logged_out"), .connectRequested),
            (.unpaired, .disconnected(reason(.network))),
            (.backoff(until: t0, attempt: 1, reason: .network), .loginSucceeded),
            (.suspended(.replaced), .suspensionLifted),
            (.suspended(.replaced), .connectRequested),
        ]
        for (state, event) in cases {
            var machine = DeviceStateMachine(state: state, webVersion: "v")
            #expect(machine.handle(event, now: t0, random: &random).isRejected, "\(event) in \(state)")
            #expect(machine.state == state)
        }
    }

    @Test mutating func pairingEndsReleaseTheLockAndWipeKeys() {
        for (event, outcome) in [(DeviceEvent.pairingEnded(.timeout), PairingOutcome.timeout), (.reset(.soft), .cancelled)] {
            var machine = DeviceStateMachine(state: .pairing(.qr), webVersion: "v")
            let result = machine.handle(event, now: t0, random: &random)
            #expect(machine.state == .unpaired)
            #expect(result.actions.contains(.wipeCredentials))
            #expect(result.actions.contains { if case .endPairing(outcome, _) = $0 { true } else { false } })
        }
        var machine = DeviceStateMachine(state: .pairing(.code), webVersion: "v")
        let refsRanOut = machine.handle(.disconnected(reason(.pairingTimeout, stage: .pairing)), now: t0, random: &random)
        #expect(refsRanOut.actions.contains { if case .endPairing(.timeout, _) = $0 { true } else { false } })
    }

    @Test mutating func logoutReasonsWipeCredentialsAndNeverReconnect() {
        for code in [401, 403, 406] {
            var machine = DeviceStateMachine(state: .online, webVersion: "v")
            let result = machine.handle(.disconnected(reason(.loggedOut, stage: .login, code: code)), now: t0, random: &random)
            #expect(machine.state == .loggedOut(reason: "logged_out"))
            #expect(result.actions.contains(.wipeCredentials))
            #expect(!result.actions.contains { if case .connect = $0 { true } else { false } })
            #expect(machine.handle(.backoffElapsed, now: t0, random: &random).isRejected)
            #expect(machine.handle(.connectRequested, now: t0, random: &random).isRejected)
        }
    }

    @Test mutating func replacedSuspendsAndOnlyAResetResumes() {
        var machine = DeviceStateMachine(state: .online, webVersion: "v")
        let result = machine.handle(.disconnected(reason(.replaced)), now: t0, random: &random)
        #expect(machine.state == .suspended(.replaced))
        #expect(!result.actions.contains { if case .connect = $0 { true } else { false } })
        #expect(!result.actions.contains { if case .scheduleWake = $0 { true } else { false } })
        let reset = machine.handle(.reset(.soft), now: t0, random: &random)
        #expect(reset.actions.contains(.connect(.login)))
    }

    @Test mutating func aRefusalSuspendsWithoutWipingAndOnlyAResetResumes() throws {
        let refused = try #require(DisconnectReason.Category(rawValue: "refused"))
        var machine = DeviceStateMachine(state: .online, webVersion: "v")
        let result = machine.handle(.disconnected(reason(refused, code: 516)), now: t0, random: &random)
        #expect(machine.state.kind == .suspended)
        #expect(machine.state.reason == "refused:516")
        #expect(!result.actions.contains(.wipeCredentials))
        #expect(!result.actions.contains { if case .connect = $0 { true } else { false } })
        #expect(!result.actions.contains { if case .scheduleWake = $0 { true } else { false } })
        #expect(machine.handle(.suspensionLifted, now: t0, random: &random).isRejected)
        let reset = machine.handle(.reset(.soft), now: t0, random: &random)
        #expect(reset.actions.contains(.connect(.login)))
    }

    @Test mutating func clientOutdatedSuspendsNamingTheVersion() {
        var machine = DeviceStateMachine(state: .connecting, webVersion: "2.3000.1045649367")
        _ = machine.handle(.disconnected(reason(.clientOutdated, stage: .login, code: 405)), now: t0, random: &random)
        #expect(machine.state == .suspended(.clientOutdated(version: "2.3000.1045649367")))
        #expect(machine.state.reason == "client_outdated:2.3000.1045649367")
    }

    @Test mutating func temporaryBanWakesAtTheBansEnd() {
        var machine = DeviceStateMachine(state: .connecting, webVersion: "v")
        let until = t0.addingTimeInterval(3600)
        let result = machine.handle(.disconnected(reason(.temporaryBan, stage: .login, code: 402, banUntil: until)), now: t0, random: &random)
        #expect(result.actions.contains(.scheduleWake(at: until)))
        #expect(machine.handle(.suspensionLifted, now: until, random: &random).actions.contains(.connect(.login)))
    }

    @Test mutating func networkFailuresBackOffWithGrowingBoundsAndOnlineForgivesThem() {
        var machine = DeviceStateMachine(state: .connecting, webVersion: "v")
        let policy = ReconnectPolicy()
        var now = t0
        for attempt in 1...12 {
            let result = machine.handle(.disconnected(reason(.network, stage: .tcp)), now: now, random: &random)
            guard case .backoff(let until, let counted, _) = machine.state else {
                Issue.record("expected backoff, got \(machine.state)")
                return
            }
            #expect(counted == attempt)
            #expect(until.timeIntervalSince(now) <= policy.upperBound(attempt: attempt).seconds)
            #expect(result.actions.contains(.scheduleWake(at: until)))
            now = until
            _ = machine.handle(.backoffElapsed, now: now, random: &random)
        }
        #expect(policy.upperBound(attempt: 12) == .seconds(300))
        _ = machine.handle(.loginSucceeded, now: now, random: &random)
        now = now.addingTimeInterval(61)
        _ = machine.handle(.disconnected(reason(.serverError, code: 503)), now: now, random: &random)
        #expect(machine.attempt == 1)
    }

    @Test mutating func restartRequiredReconnectsAtOnceButNeverSpins() {
        var machine = DeviceStateMachine(state: .online, webVersion: "v")
        var immediate = 0
        for _ in 0..<5 {
            let result = machine.handle(.disconnected(reason(.restartRequired, code: 515)), now: t0, random: &random)
            if result.actions.contains(where: { if case .recordDisconnect(_, .reconnectNow) = $0 { true } else { false } }) {
                immediate += 1
                _ = machine.handle(.loginSucceeded, now: t0, random: &random)
            }
        }
        #expect(immediate == 3)
        #expect(machine.state.kind == .backoff)
    }

    @Test mutating func shutdownLeavesAPairedDeviceForTheNextOwner() {
        for state in [DeviceState.online, .connecting, .backoff(until: t0, attempt: 2, reason: .network)] {
            var machine = DeviceStateMachine(state: state, webVersion: "v")
            let result = machine.handle(.shutdown, now: t0, random: &random)
            #expect(machine.state == .paired)
            #expect(result.actions.contains { if case .recordDisconnect(let r, .stop) = $0 { r.category == .shutdown } else { false } })
        }
    }

    @Test mutating func aStopClosesTheConnectionWithARecordedReasonAndLeavesTheDevicePaired() {
        for state in [DeviceState.online, .connecting, .paired, .backoff(until: t0, attempt: 2, reason: .network)] {
            var machine = DeviceStateMachine(state: state, webVersion: "v")
            let result = machine.handle(.stop, now: t0, random: &random)
            #expect(machine.state == .paired)
            #expect(result.actions.contains(.cancelWake))
            #expect(result.actions.contains { if case .closeConnection(let r) = $0 { r.category == .shutdown } else { false } })
            #expect(result.actions.contains { if case .recordDisconnect(let r, .stop) = $0 { r.detail == "stopped through the API" } else { false } })
            #expect(state == .paired || result.transition?.reason == "stopped")
        }
        // Nothing runs for a suspended device; nothing to stop before pairing or after a logout.
        var suspended = DeviceStateMachine(state: .suspended(.replaced), webVersion: "v")
        #expect(suspended.handle(.stop, now: t0, random: &random) == .updated)
        for state in [DeviceState.unpaired, .pairing(.qr), .loggedOut(reason: "reset")] {
            var machine = DeviceStateMachine(state: state, webVersion: "v")
            #expect(machine.handle(.stop, now: t0, random: &random).isRejected)
        }
    }

    @Test mutating func resetsAreIdempotent() {
        for state in [DeviceState.unpaired, .loggedOut(reason: "reset")] {
            var machine = DeviceStateMachine(state: state, webVersion: "v")
            #expect(machine.handle(.reset(.logout), now: t0, random: &random) == .updated)
            #expect(machine.handle(.reset(.soft), now: t0, random: &random) == .updated)
        }
        var machine = DeviceStateMachine(state: .online, webVersion: "v")
        let logout = machine.handle(.reset(.logout), now: t0, random: &random)
        #expect(logout.actions.contains(.logoutUpstream))
        #expect(logout.actions.contains(.wipeCredentials))
        #expect(machine.handle(.reset(.logout), now: t0, random: &random) == .updated)
    }

    @Test mutating func everyPersistedTransitionIsOneTheHistoryCheckAllows() {
        // Drive the machine through random events and check each persisted transition against
        // the table the chaos invariant uses.
        var events: [DeviceEvent] = [
            .pairRequested(.qr), .pairingCodeIssued, .paired, .pairingEnded(.timeout), .connectRequested,
            .loginSucceeded, .keepaliveChanged, .backoffElapsed, .suspensionLifted, .reset(.soft), .reset(.logout),
            .shutdown, .stop,
        ]
        for category in DisconnectReason.Category.allCases { events.append(.disconnected(reason(category))) }
        var machine = DeviceStateMachine(state: .unpaired, webVersion: "v")
        var applied = 0
        for step in 0..<20_000 {
            let event = events[Int(random.next() % UInt64(events.count))]
            let result = machine.handle(event, now: t0.addingTimeInterval(Double(step)), random: &random)
            if let transition = result.transition {
                applied += 1
                #expect(DeviceStateMachine.allows(from: transition.from.kind, to: transition.to.kind),
                        "\(transition.from) → \(transition.to)")
            }
        }
        #expect(applied > 1000)
    }
}
