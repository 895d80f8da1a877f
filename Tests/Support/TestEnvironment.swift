import Foundation
import Testing

/// What ops/test.sh tells the tests about the machine.
public enum TestEnvironment {
    static let variables = ProcessInfo.processInfo.environment

    /// The throwaway server's admin database, e.g. postgresql://postgres@127.0.0.1:PORT/pairgate_test.
    public static var databaseURL: String? { variables["PAIRGATE_TEST_DATABASE_URL"] }
    /// Set by ops/test.sh: database tests must run (and fail) rather than skip.
    public static var requiresDatabase: Bool { variables["PAIRGATE_REQUIRE_DB"] == "1" }
    /// Set by ops/test.sh: tests that need external tools (zbarimg, chromium…) must run.
    public static var requiresTools: Bool { variables["PAIRGATE_REQUIRE_TOOLS"] == "1" }
    /// PostgreSQL's server binaries (initdb, pg_ctl).
    public static var postgresBinaries: String? { variables["PAIRGATE_TEST_PGBIN"] }
    /// The OS user initdb and pg_ctl must run as (postgres when the tests run as root).
    public static var postgresOSUser: String? { variables["PAIRGATE_TEST_PG_OSUSER"] }
    /// A scratch folder that ops/test.sh removes afterwards.
    public static var scratchDirectory: String { variables["PAIRGATE_TEST_TMP"] ?? NSTemporaryDirectory() }

    /// Whether database tests should run here.
    public static var databaseTestsEnabled: Bool { databaseURL != nil || requiresDatabase }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test when PostgreSQL is available (always under ops/test.sh).
    public static var requiresDatabase: Self {
        .enabled(if: TestEnvironment.databaseTestsEnabled, "needs PostgreSQL: run ops/test.sh or set PAIRGATE_TEST_DATABASE_URL")
    }
}
