import Testing

/// Waits for a condition by re-checking it (between scheduler turns at first, then a few
/// milliseconds apart so a waiting test does not starve the work it waits for on a loaded machine;
/// or `pause` apart when the condition is costly or the work happens in other processes); fails
/// after `limit` of wall time so a broken test cannot hang CI. The condition decides, never the
/// pause: the limit is only there to end a test that would otherwise wait forever.
public func eventually(
    _ what: String, limit: Duration = .seconds(30), pause: Duration? = nil, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    var checks = 0
    var backoff = Duration.milliseconds(1)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        checks += 1
        if let pause {
            try await Task.sleep(for: pause)
        } else if checks < 64 {
            await Task.yield()
        } else {
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .milliseconds(20))
        }
    }
    Issue.record("timed out waiting for \(what)")
    throw CancellationError()
}
