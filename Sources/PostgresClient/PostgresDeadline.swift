/// The latest instant a caller waits for PostgreSQL, bound for a task and the tasks it starts:
/// `PostgresDeadline.$current.withValue(deadline) { … }`. Every pool call made under it stops
/// waiting at the deadline — for a free connection and for the server's answers — with
/// `deadlineExceeded`, where it would otherwise wait out the pool's own timeouts. An HTTP
/// request's deadline is bound this way, so a database that stopped answering costs a request no
/// more than its deadline and a connection no longer than that.
public enum PostgresDeadline {
    @TaskLocal public static var current: ContinuousClock.Instant?
}
