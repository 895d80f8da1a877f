import NIOCore
import Synchronization

/// What a `TimerWheel` calls when one of its timers is due.
protocol TimerWheelOwner: AnyObject {
    /// On the wheel's event loop. `generation` is the one given to `TimerWheel.add`; an owner that
    /// has rescheduled or cancelled the timer since ignores the call.
    func timerWheelFired(_ timer: ClientSessionMachine.Timer, generation: UInt64)
}

/// Coarse timers for every connection on one event loop.
///
/// Each keepalive ping used to schedule two NIO tasks on its connection's loop (the next ping and
/// the answer's deadline) and cancel one of them. With thousands of connections per loop, NIO's
/// scheduled-task heap (an insert and a pop per timer, a linear search per cancel, a promise per
/// task) was about 40 % of an idle gateway's CPU (docs/performance.md). Here a timer is an entry in
/// one of `slotCount` slots, `resolution` apart; cancelling is free (the owner forgets the
/// generation and the entry is dropped when its slot comes round), and the loop wakes once per
/// `resolution` while any timer is pending.
///
/// A timer fires on the first tick at or after its deadline: up to one resolution late, never
/// early. Timers longer than a revolution stay in their slot for the rounds in between.
/// Not thread-safe: every call is on `eventLoop`.
final class TimerWheel {
    struct Entry {
        let deadline: Int64
        let owner: any TimerWheelOwner
        let timer: ClientSessionMachine.Timer
        let generation: UInt64
    }

    let eventLoop: any EventLoop
    let resolution: TimeAmount
    private let origin: NIODeadline
    private var slots: [[Entry]]
    /// Every tick up to this one has run.
    private var processed: Int64 = 0
    private var armed = false

    /// Timers added and not yet fired or dropped (cancelled ones count until their slot comes round).
    private(set) var pendingCount = 0

    /// `now` is the loop's clock unless a test moves it (to make a tick run late, say).
    init(
        eventLoop: any EventLoop, resolution: TimeAmount = .milliseconds(100), slotCount: Int = 512,
        now: (() -> NIODeadline)? = nil
    ) {
        precondition(resolution.nanoseconds > 0 && slotCount > 0)
        self.eventLoop = eventLoop
        self.resolution = resolution
        self.slotCount = slotCount
        self.now = now ?? { eventLoop.now }
        origin = self.now()
        slots = Array(repeating: [], count: slotCount)
    }

    private let slotCount: Int
    private let now: () -> NIODeadline

    /// Nanoseconds since the wheel was made.
    private var elapsed: Int64 {
        (now() - origin).nanoseconds
    }

    /// Fires `owner.timerWheelFired(timer, generation:)` once `delay` has passed.
    func add(after delay: TimeAmount, owner: any TimerWheelOwner, timer: ClientSessionMachine.Timer, generation: UInt64) {
        eventLoop.preconditionInEventLoop()
        let elapsed = elapsed
        if pendingCount == 0 {
            // Idle until now: skip the empty ticks rather than run them one by one when armed.
            processed = max(processed, elapsed / resolution.nanoseconds)
        }
        let due = elapsed + max(delay.nanoseconds, 0)
        // Rounded up, and never a tick that has already run.
        let deadline = max((due + resolution.nanoseconds - 1) / resolution.nanoseconds, processed + 1)
        slots[slot(deadline)].append(Entry(deadline: deadline, owner: owner, timer: timer, generation: generation))
        pendingCount += 1
        armIfNeeded()
    }

    private func slot(_ tick: Int64) -> Int {
        Int(tick % Int64(slotCount))
    }

    private func armIfNeeded() {
        guard !armed, pendingCount > 0 else {
            return
        }
        armed = true
        let next = origin + .nanoseconds(resolution.nanoseconds * (processed + 1))
        eventLoop.assumeIsolated().scheduleTask(deadline: next) { [self] in
            armed = false
            runDueTicks()
            armIfNeeded()
        }
    }

    /// Runs every tick up to now: late wake-ups catch up rather than drift.
    private func runDueTicks() {
        let now = elapsed / resolution.nanoseconds
        while processed < now && pendingCount > 0 {
            processed += 1
            runTick(processed)
        }
    }

    private func runTick(_ tick: Int64) {
        let index = slot(tick)
        guard !slots[index].isEmpty else {
            return
        }
        var entries: [Entry] = []
        swap(&entries, &slots[index])
        var kept = 0
        for position in entries.indices {
            let entry = entries[position]
            if entry.deadline <= tick {
                pendingCount -= 1
                entry.owner.timerWheelFired(entry.timer, generation: entry.generation)
            } else {
                entries[kept] = entry
                kept += 1
            }
        }
        entries.removeSubrange(kept...)
        // An owner may have added a timer for a later round of this same slot while it fired.
        entries.append(contentsOf: slots[index])
        swap(&entries, &slots[index])
    }
}

/// One `TimerWheel` per event loop of a client's group, made on first use.
final class TimerWheels: Sendable {
    // The loop bound keeps its event loop alive, so an identifier cannot be reused by a new loop.
    private let wheels = Mutex<[ObjectIdentifier: NIOLoopBound<TimerWheel>]>([:])

    /// The wheel of the calling event loop.
    func wheel(on eventLoop: any EventLoop) -> TimerWheel {
        eventLoop.preconditionInEventLoop()
        let key = ObjectIdentifier(eventLoop)
        let bound = wheels.withLock { wheels in
            if let existing = wheels[key] {
                return existing
            }
            let created = NIOLoopBound(TimerWheel(eventLoop: eventLoop), eventLoop: eventLoop)
            wheels[key] = created
            return created
        }
        return bound.value
    }
}
