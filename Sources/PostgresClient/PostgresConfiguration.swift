/// How to reach PostgreSQL, how many connections to keep, and how long to wait for it.
///
/// The timeouts are sized for Pairgate's leases (30 s TTL, renewed every 10 s, a device closes
/// itself 20 s after its last confirmed renewal): a database that stopped answering must turn
/// into an error well inside the 10 s between two renewals, so that the next renewal gets its
/// chance on a fresh connection. A partition that drops packets is found by the kernel
/// (`tcpUserTimeout`, `keepalive`); a peer that accepts bytes and never answers (a hung proxy or
/// server, or a connection whose packets vanish after the kernel acknowledged them) only by the
/// client's own clock (`responseTimeout`). Each pool has its own configuration, so fleet control
/// can run with a shorter `statementTimeout` than the HTTP pool.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection URL (`postgresql://user@host:port/db`) or key=value string. Secret:
    /// it may hold a password, so it is never logged.
    public var url: String
    /// Connections the pool opens at most.
    public var maximumConnections: Int = 10
    /// How long opening a connection may take (libpq rounds up to whole seconds, minimum 2, and
    /// applies it to each address a host name resolves to).
    public var connectTimeout: Duration = .seconds(5)
    /// How long a caller waits for a free pooled connection before `poolTimeout`.
    public var acquireTimeout: Duration = .seconds(10)
    /// Server-side limit per statement (sent at connect, so it costs no round trip); nil leaves
    /// the server's default.
    public var statementTimeout: Duration? = .seconds(30)
    /// How long the client waits for the server's answer to one statement before it gives the
    /// connection up (`timedOut`; whether the statement ran is then unknown). nil: the statement
    /// timeout plus 2 s, so a slow statement ends with the server's own `queryCanceled` on a
    /// healthy connection first; no client deadline when both are nil.
    public var responseTimeout: Duration?
    /// TCP keepalive probes on every TCP connection (libpq `keepalives_*`); nil turns them off.
    public var keepalive: TCPKeepalive? = TCPKeepalive()
    /// How long sent data may stay unacknowledged before the kernel drops the connection (libpq
    /// `tcp_user_timeout`, Linux only). 5 s: a partition during a statement fails it within half a
    /// renewal interval, where the kernel's default retransmission schedule takes ~15 minutes.
    /// nil leaves the kernel's default.
    public var tcpUserTimeout: Duration? = .seconds(5)
    /// Named prepared statements each connection keeps (a statement is prepared on its first use
    /// there). When full, the connection deallocates them all and starts over. 0 never prepares:
    /// for a transaction-pooling proxy (PgBouncer before 1.21) that cannot keep them.
    public var preparedStatementCacheSize: Int = 256
    /// Shown in pg_stat_activity.
    public var applicationName: String = "pairgate"

    public init(url: String) {
        self.url = url
    }

    /// TCP keepalive settings, for idle connections whose peer vanished without a FIN.
    ///
    /// The defaults find a dead peer of an idle connection after 5 s + 3 × 1 s = 8 s at most (on
    /// Linux sooner: with `tcpUserTimeout` set, the first unanswered probe older than it ends the
    /// connection, ~6 s), inside the 10 s renewal interval; a pooled connection found dead this
    /// way is replaced at its next checkout instead of failing a statement.
    public struct TCPKeepalive: Sendable, Hashable {
        /// Idle time before the first probe (whole seconds, at least 1).
        public var idle: Duration = .seconds(5)
        /// Time between unanswered probes (whole seconds, at least 1).
        public var interval: Duration = .seconds(1)
        /// Unanswered probes before the connection is dropped.
        public var count: Int = 3

        public init() {}
    }

    /// The client's deadline for one statement's answer, derived as documented on `responseTimeout`.
    var effectiveResponseTimeout: Duration? {
        responseTimeout ?? statementTimeout.map { $0 + .seconds(2) }
    }

    /// The libpq connection keywords and values these settings stand for.
    var connectionParameters: [(keyword: String, value: String)] {
        var parameters: [(String, String)] = [
            ("dbname", url),
            ("connect_timeout", String(max(2, connectTimeout.wholeSecondsRoundedUp))),
            ("fallback_application_name", applicationName),
        ]
        if let statementTimeout {
            parameters.append(("options", "-c statement_timeout=\(statementTimeout.wholeMilliseconds)"))
        }
        if let keepalive {
            parameters.append(("keepalives", "1"))
            parameters.append(("keepalives_idle", String(max(1, keepalive.idle.wholeSecondsRoundedUp))))
            parameters.append(("keepalives_interval", String(max(1, keepalive.interval.wholeSecondsRoundedUp))))
            parameters.append(("keepalives_count", String(max(1, keepalive.count))))
        } else {
            parameters.append(("keepalives", "0"))
        }
        if let tcpUserTimeout {
            parameters.append(("tcp_user_timeout", String(max(1, tcpUserTimeout.wholeMilliseconds))))
        }
        return parameters
    }
}

/// A NOTIFY received on a LISTEN channel.
public struct PostgresNotification: Sendable, Hashable {
    public var channel: String
    public var payload: String
    /// The backend process that sent it.
    public var processID: Int32
}

extension Duration {
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    var wholeSecondsRoundedUp: Int {
        Int(components.seconds) + (components.attoseconds > 0 ? 1 : 0)
    }
}
