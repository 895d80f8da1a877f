/// How to reach PostgreSQL and how many connections to keep.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection URL (`postgresql://user@host:port/db`) or key=value string. Secret:
    /// it may hold a password, so it is never logged.
    public var url: String
    /// Connections the pool opens at most.
    public var maximumConnections: Int = 10
    /// How long opening a connection may take (libpq rounds up to whole seconds, minimum 2).
    public var connectTimeout: Duration = .seconds(5)
    /// How long a caller waits for a free pooled connection before `poolTimeout`.
    public var acquireTimeout: Duration = .seconds(10)
    /// Server-side limit per statement; nil leaves the server's default.
    public var statementTimeout: Duration? = .seconds(30)
    /// Shown in pg_stat_activity.
    public var applicationName: String = "pairgate"

    public init(url: String) {
        self.url = url
    }
}

/// A NOTIFY received on a LISTEN channel.
public struct PostgresNotification: Sendable, Hashable {
    public var channel: String
    public var payload: String
    /// The backend process that sent it.
    public var processID: Int32
}
