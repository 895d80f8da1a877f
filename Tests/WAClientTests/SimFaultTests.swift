import Testing
@testable import WASim

@Suite("Simulator faults")
struct SimFaultTests {
    private func id(_ number: UInt64) -> SimConnectionID { SimConnectionID(number) }

    @Test func armedConnectionFaultHitsTheNextConnectionsThenStops() throws {
        let faults = FaultInjector()
        try faults.arm(ArmedFault(kind: .refuseConnection, count: 2))
        #expect(faults.planConnection(id(1)).refuse)
        #expect(faults.planConnection(id(2)).refuse)
        #expect(!faults.planConnection(id(3)).refuse)
        #expect(faults.armed.isEmpty)
    }

    @Test func handshakeDelayCarriesItsDelay() throws {
        let faults = FaultInjector()
        try faults.arm(ArmedFault(kind: .delayHandshake, delay: .milliseconds(250)))
        try faults.arm(ArmedFault(kind: .dropHandshake))
        let planned = faults.planConnection(id(1))
        #expect(planned.handshakeDelay == .milliseconds(250))
        #expect(planned.dropMidHandshake)
    }

    @Test func loginFailureIsNotUsedUpByARegistration() throws {
        let faults = FaultInjector()
        try faults.arm(ArmedFault(kind: .failure405))
        // A companion pairing first: its registration hands the fault back...
        #expect(faults.planConnection(id(1)).loginFailure == 405)
        faults.handshakeCompleted(id(1), isRegistration: true)
        #expect(faults.armed.map(\.kind) == [.failure405])
        // ...so the login after the 515 restart gets it, and uses it up.
        #expect(faults.planConnection(id(2)).loginFailure == 405)
        faults.handshakeCompleted(id(2), isRegistration: false)
        faults.connectionClosed(id(2))
        #expect(faults.armed.isEmpty)
        #expect(faults.planConnection(id(3)).loginFailure == nil)
    }

    @Test func loginFailureOfAConnectionThatNeverFinishedItsHandshakeIsArmedAgain() throws {
        let faults = FaultInjector()
        try faults.arm(ArmedFault(kind: .failure405, count: 2))
        #expect(faults.planConnection(id(1)).loginFailure == 405)
        faults.connectionClosed(id(1))
        #expect(faults.armed.first?.remaining == 2)
    }

    @Test func targetedLoginFaultWaitsForItsDevice() throws {
        let faults = FaultInjector()
        try faults.arm(ArmedFault(kind: .streamError515, device: "15550001234:2@s.whatsapp.net"))
        #expect(faults.planLogin(id(1), device: "15550001234:1@s.whatsapp.net") == nil)
        #expect(faults.planLogin(id(2), device: "15550001234:2@s.whatsapp.net")?.kind == .streamError515)
        #expect(faults.planLogin(id(3), device: "15550001234:2@s.whatsapp.net") == nil)
    }

    @Test func loginFaultsFireInTheOrderTheyWereArmed() throws {
        let faults = FaultInjector()
        try faults.arm(ArmedFault(kind: .unlink))
        try faults.arm(ArmedFault(kind: .streamError515))
        #expect(faults.planLogin(id(1), device: "d")?.kind == .unlink)
        #expect(faults.planLogin(id(2), device: "d")?.kind == .streamError515)
    }

    @Test func faultsDecidedBeforeLoginCannotTargetADevice() {
        let faults = FaultInjector()
        #expect(throws: SimulatorError.self) {
            try faults.arm(ArmedFault(kind: .dropHandshake, device: "15550001234:2@s.whatsapp.net"))
        }
        #expect(throws: SimulatorError.self) {
            try faults.arm(ArmedFault(kind: .unlink, count: 0))
        }
        #expect(throws: SimulatorError.self) {
            try faults.arm(ArmedFault(kind: .slowKeepalive, delay: .seconds(-1)))
        }
    }

    @Test func slowKeepaliveDefaultsPastTheClientDeadline() throws {
        let faults = FaultInjector()
        try faults.arm(ArmedFault(kind: .slowKeepalive))
        #expect(faults.planLogin(id(1), device: "d") == InjectedFault(kind: .slowKeepalive, delay: .seconds(12)))
    }

    @Test func scheduleIsReproducibleWhateverTheOrderOfConnections() throws {
        let schedule = FaultSchedule(rates: [.dropHandshake: 0.3, .streamError503: 0.2], seed: 42)
        func draw(_ numbers: [UInt64]) throws -> [UInt64: Bool] {
            let faults = FaultInjector()
            try faults.setSchedule(schedule)
            return Dictionary(uniqueKeysWithValues: numbers.map { ($0, faults.planConnection(id($0)).dropMidHandshake) })
        }
        let forward = try draw(Array(1...200))
        #expect(forward == (try draw(Array((1...200).reversed()))))
        let hits = forward.values.filter { $0 }.count
        #expect((30...90).contains(hits))
    }

    @Test func differentSeedsGiveDifferentFaults() {
        let one = FaultSchedule(rates: [.streamError503: 0.5], seed: 1)
        let two = FaultSchedule(rates: [.streamError503: 0.5], seed: 2)
        let first = (0..<64).map { one.fires(.streamError503, connection: UInt64($0)) }
        let second = (0..<64).map { two.fires(.streamError503, connection: UInt64($0)) }
        #expect(first != second)
    }

    @Test func rateOutsideZeroToOneIsRefused() {
        let faults = FaultInjector()
        #expect(throws: SimulatorError.self) {
            try faults.setSchedule(FaultSchedule(rates: [.unlink: 1.5]))
        }
    }

    @Test func armedFaultsComeBeforeTheScheduleAndClearRemovesBoth() throws {
        let faults = FaultInjector()
        try faults.setSchedule(FaultSchedule(rates: [.streamError503: 1]))
        try faults.arm(ArmedFault(kind: .conflictReplaced))
        #expect(faults.planLogin(id(1), device: "d")?.kind == .conflictReplaced)
        #expect(faults.planLogin(id(2), device: "d")?.kind == .streamError503)
        faults.clear()
        #expect(faults.planLogin(id(3), device: "d") == nil)
        #expect(faults.schedule == nil)
    }

    @Test func appliedLabelsOfTheConnectionMachineMapToKinds() {
        #expect(FaultKind(appliedLabel: "drop_mid_handshake") == .dropHandshake)
        #expect(FaultKind(appliedLabel: "keepalive_ignore") == .missingKeepalive)
        #expect(FaultKind(appliedLabel: "stream_error_device_removed") == .deviceRemoved)
        #expect(FaultKind(appliedLabel: "drop") == nil)
    }
}
