import Foundation
import PostgresClient
import WAWire

/// What one batch of the history sweep deleted.
public struct HistorySweep: Sendable, Hashable {
    public var transitions: Int
    public var disconnects: Int

    public init(transitions: Int, disconnects: Int) {
        self.transitions = transitions
        self.disconnects = disconnects
    }

    public var deleted: Int { transitions + disconnects }
}

extension PostgresDeviceStore {
    /// Deletes at most `batchSize` state transitions and `batchSize` disconnects older than `age`,
    /// oldest first, and returns how many went. Each device keeps its newest disconnect, however
    /// old: GET /status shows it. Several instances may sweep at once: rows another sweep holds
    /// are skipped (SKIP LOCKED), so none waits for another and no row is counted twice.
    public func deleteHistory(olderThan age: Duration, batchSize: Int) async throws -> HistorySweep {
        let seconds = age.seconds
        let transitions = try await pool.query("""
            WITH doomed AS (
                SELECT id FROM state_transitions WHERE at < now() - make_interval(secs => $1)
                ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED
            )
            DELETE FROM state_transitions t USING doomed WHERE t.id = doomed.id
            """, [seconds, Int64(batchSize)]).affectedRows
        let disconnects = try await pool.query("""
            WITH doomed AS (
                SELECT x.id FROM disconnects x
                WHERE x.at < now() - make_interval(secs => $1)
                  AND EXISTS (SELECT 1 FROM disconnects n WHERE n.device_id = x.device_id AND (n.at, n.id) > (x.at, x.id))
                ORDER BY x.at LIMIT $2 FOR UPDATE OF x SKIP LOCKED
            )
            DELETE FROM disconnects x USING doomed WHERE x.id = doomed.id
            """, [seconds, Int64(batchSize)]).affectedRows
        return HistorySweep(transitions: transitions, disconnects: disconnects)
    }
}
