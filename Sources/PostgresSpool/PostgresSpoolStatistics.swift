import EnchargeSpool
import Logging
import PostgresNIO

/// Reads the spool's counts: the `counts` row (kept exact by every transaction that changes what
/// it counts), the kept failed requests (capped, so counting them is cheap) and the oldest pending
/// event (the first entry of the pending index). Cheap enough for every second.
enum PostgresSpoolStatistics {
    static func read(on connection: PostgresConnection, logger: Logger) async throws -> SpoolStats {
        let rows = try await connection.query(
            """
            SELECT c.pending, c.delivered, c.dead, (SELECT count(*) FROM encharge_spool.failed_request),
                   (SELECT accepted_at FROM encharge_spool.event WHERE state = 'pending' ORDER BY id LIMIT 1)
            FROM encharge_spool.counts AS c
            """, logger: logger
        ).collect()
        let (pending, delivered, dead, failed, oldest) = try rows[0].decode((Int64, Int64, Int64, Int64, Double?).self)
        return SpoolStats(
            pending: Int(pending), delivered: Int(delivered), dead: Int(dead), failedRequests: Int(failed),
            oldestPendingAcceptedAt: oldest)
    }
}
