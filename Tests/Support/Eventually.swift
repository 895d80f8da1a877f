import Testing

/// Waits for a condition by re-checking it (between scheduler turns, or `pause` apart when the
/// condition is costly or the work happens in other processes); fails after `limit` of wall time
/// so a broken test cannot hang CI. The condition decides, never the pause.
public func eventually(
    _ what: String, limit: Duration = .seconds(10), pause: Duration? = nil, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        if let pause {
            try await Task.sleep(for: pause)
        } else {
            await Task.yield()
        }
    }
    Issue.record("timed out waiting for \(what)")
    throw CancellationError()
}
