import NIOCore
import NIOEmbedded
import Testing
@testable import WAClient
import WAWire

@Suite("Timer wheel: one coarse timer per event loop for every connection's timers")
struct TimerWheelTests {
    /// Records firings with the loop's (virtual) time; ignores generations it has forgotten.
    final class Owner: TimerWheelOwner {
        let loop: EmbeddedEventLoop
        var current: [ClientSessionMachine.Timer: UInt64] = [:]
        var fired: [(timer: ClientSessionMachine.Timer, at: Int64)] = []
        var ignored = 0
        var onFire: ((ClientSessionMachine.Timer) -> Void)?

        init(_ loop: EmbeddedEventLoop) {
            self.loop = loop
        }

        func timerWheelFired(_ timer: ClientSessionMachine.Timer, generation: UInt64) {
            guard current[timer] == generation else {
                ignored += 1
                return
            }
            current[timer] = nil
            fired.append((timer, Int64(loop.now.uptimeNanoseconds / 1_000_000)))
            onFire?(timer)
        }
    }

    @Test func aTimerFiresOnTheFirstTickAtOrAfterItsDeadlineAndNeverEarly() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, resolution: .milliseconds(100), slotCount: 16)
        let owner = Owner(loop)
        owner.current[.keepalive] = 1
        wheel.add(after: .milliseconds(1_050), owner: owner, timer: .keepalive, generation: 1)
        loop.advanceTime(to: .uptimeNanoseconds(1_099_000_000))
        #expect(owner.fired.isEmpty)
        loop.advanceTime(to: .uptimeNanoseconds(1_100_000_000))
        #expect(owner.fired.map(\.at) == [1_100])
        #expect(wheel.pendingCount == 0)
        // Nothing pending: the wheel no longer wakes the loop.
        loop.advanceTime(by: .seconds(60))
        #expect(owner.fired.count == 1)
    }

    @Test func aCancelledTimerIsDroppedWhenItsSlotComesRound() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, resolution: .milliseconds(100), slotCount: 16)
        let owner = Owner(loop)
        owner.current[.request("a")] = 1
        wheel.add(after: .seconds(1), owner: owner, timer: .request("a"), generation: 1)
        owner.current[.request("a")] = nil  // the answer came: the handler forgets it
        #expect(wheel.pendingCount == 1)
        loop.advanceTime(by: .seconds(2))
        #expect(owner.fired.isEmpty)
        #expect(owner.ignored == 1)
        #expect(wheel.pendingCount == 0)
    }

    @Test func aRescheduledTimerFiresOnlyAtItsNewTime() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, resolution: .milliseconds(100), slotCount: 16)
        let owner = Owner(loop)
        owner.current[.qrRotation] = 1
        wheel.add(after: .seconds(1), owner: owner, timer: .qrRotation, generation: 1)
        owner.current[.qrRotation] = 2
        wheel.add(after: .seconds(3), owner: owner, timer: .qrRotation, generation: 2)
        loop.advanceTime(by: .seconds(5))
        #expect(owner.fired.map(\.at) == [3_000])
        #expect(owner.ignored == 1)
    }

    @Test func timersLongerThanARevolutionWaitOutTheRoundsInBetween() {
        let loop = EmbeddedEventLoop()
        // 8 slots of 100 ms: one revolution is 0.8 s.
        let wheel = TimerWheel(eventLoop: loop, resolution: .milliseconds(100), slotCount: 8)
        let owner = Owner(loop)
        owner.current[.keepalive] = 1
        owner.current[.handshake] = 2
        wheel.add(after: .milliseconds(2_500), owner: owner, timer: .keepalive, generation: 1)
        wheel.add(after: .milliseconds(900), owner: owner, timer: .handshake, generation: 2)
        loop.advanceTime(by: .seconds(10))
        #expect(owner.fired.map(\.timer) == [.handshake, .keepalive])
        #expect(owner.fired.map(\.at) == [900, 2_500])
    }

    @Test func aLateWakeUpCatchesUpInDeadlineOrder() {
        let loop = EmbeddedEventLoop()
        // The wheel's clock runs ahead of the loop's by `lag`: its first tick runs 5 s late.
        var lag: Int64 = 0
        let wheel = TimerWheel(eventLoop: loop, resolution: .milliseconds(100), slotCount: 16) {
            loop.now + .nanoseconds(lag)
        }
        let owner = Owner(loop)
        let timers: [(ClientSessionMachine.Timer, Int64)] = [(.request("c"), 1_700), (.request("a"), 300), (.request("b"), 900)]
        for (index, (timer, milliseconds)) in timers.enumerated() {
            owner.current[timer] = UInt64(index)
            wheel.add(after: .milliseconds(milliseconds), owner: owner, timer: timer, generation: UInt64(index))
        }
        lag = 5_000_000_000
        loop.advanceTime(by: .milliseconds(100))
        #expect(owner.fired.map(\.timer) == [.request("a"), .request("b"), .request("c")])
        #expect(wheel.pendingCount == 0)
    }

    @Test func aWheelIdleForHoursSkipsTheEmptyTicks() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, resolution: .milliseconds(100), slotCount: 16)
        let owner = Owner(loop)
        loop.advanceTime(by: .hours(10))
        owner.current[.keepalive] = 1
        wheel.add(after: .seconds(1), owner: owner, timer: .keepalive, generation: 1)
        loop.advanceTime(by: .milliseconds(999))
        #expect(owner.fired.isEmpty)
        loop.advanceTime(by: .milliseconds(1))
        #expect(owner.fired.map(\.at) == [10 * 3_600_000 + 1_000])
    }

    @Test func aTimerAddedWhileFiringIsKeptForItsOwnTime() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, resolution: .milliseconds(100), slotCount: 8)
        let owner = Owner(loop)
        var pings = 0
        owner.onFire = { [unowned owner] timer in
            guard timer == .keepalive, pings < 3 else {
                return
            }
            pings += 1
            // Exactly one revolution later: the same slot that is firing now.
            owner.current[.keepalive] = UInt64(10 + pings)
            wheel.add(after: .milliseconds(800), owner: owner, timer: .keepalive, generation: UInt64(10 + pings))
        }
        owner.current[.keepalive] = 10
        wheel.add(after: .milliseconds(800), owner: owner, timer: .keepalive, generation: 10)
        loop.advanceTime(by: .seconds(10))
        #expect(owner.fired.map(\.at) == [800, 1_600, 2_400, 3_200])
    }

    @Test func tenThousandTimersEachFireOnceWithinOneResolutionOfTheirDeadline() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(eventLoop: loop, resolution: .milliseconds(100), slotCount: 512)
        let owner = Owner(loop)
        var random = SeededRandom(seed: 0x77EE1)
        var deadlines: [ClientSessionMachine.Timer: Int64] = [:]
        for index in 0..<10_000 {
            let timer = ClientSessionMachine.Timer.request(String(index))
            let delay = Int64.random(in: 1_000...90_000, using: &random)
            deadlines[timer] = delay
            owner.current[timer] = UInt64(index)
            wheel.add(after: .milliseconds(delay), owner: owner, timer: timer, generation: UInt64(index))
        }
        var elapsed: Int64 = 0
        while elapsed < 100_000 {
            let step = Int64.random(in: 1...700, using: &random)
            elapsed += step
            loop.advanceTime(by: .milliseconds(step))
        }
        #expect(owner.fired.count == 10_000)
        #expect(Set(owner.fired.map(\.timer)).count == 10_000)
        let outside = owner.fired.filter { fired in
            let deadline = deadlines[fired.timer]!
            return fired.at < deadline || fired.at >= deadline + 100
        }
        #expect(outside.isEmpty, "\(outside.prefix(3))")
        #expect(wheel.pendingCount == 0)
    }
}
