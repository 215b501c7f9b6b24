import EnchargeKit
import EnchargeSpool
import PostgresSpool
import TestSupport
import Testing

/// The writer's batches meeting trouble that is not theirs: a deadlock with another session is
/// retried, and the settlements of a failed commit are committed later, not dropped.
@Suite(.timeLimit(.minutes(2)))
struct PostgresSpoolWriterTests {
    /// What the psql session is doing: its state and its last statement's first word.
    static func psqlState(_ database: SpoolDatabase) throws -> String {
        try database.sql(
            """
            SELECT state || ' ' || split_part(ltrim(query), ' ', 1) FROM pg_stat_activity
            WHERE application_name = 'psql' AND datname = current_database() AND pid <> pg_backend_pid()
            """)
    }

    @Test func aBatchChosenAsADeadlockVictimRunsAgain() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        let other = try PostgresSession(cluster: database.cluster, database: database.name)
        defer { other.end() }
        // The other session checks for deadlocks late, so the writer is the one PostgreSQL aborts.
        try other.send(
            "SET deadlock_timeout = '30s'; BEGIN; SELECT pending FROM encharge_spool.counts FOR UPDATE;")
        try await eventually("the other session holds the counts row") {
            try Self.psqlState(database) == "idle in transaction SELECT"
        }
        // The batch takes dedup key k, then waits for the counts row.
        let accepting = Task {
            try await spool.accept(
                requestID: "r", dedupKey: "k", events: [Events.track("ann", seq: 1)], source: "POST /",
                dedupWindow: 60)
        }
        try await eventually("the writer waits for the counts row") {
            try database.sql(
                """
                SELECT count(*) FROM pg_stat_activity WHERE application_name = 'encharge-lua'
                  AND datname = current_database() AND wait_event_type = 'Lock'
                """) == "1"
        }
        // The other session now waits for k: a deadlock, and the writer's transaction is aborted.
        try other.send("INSERT INTO encharge_spool.dedup (key, expires_at) VALUES ('k', 0);")
        try await eventually("the other session took k once the writer was aborted", timeout: .seconds(30)) {
            try Self.psqlState(database) == "idle in transaction INSERT"
        }
        try other.send("ROLLBACK;")
        #expect(try await accepting.value == .accepted, "the batch ran again instead of failing the request")
        #expect(try database.sql("SELECT count(*) FROM encharge_spool.event") == "1")
        await spool.close()
    }

    @Test func theSettlementsOfAFailedCommitAreCommittedLater() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        _ = try await spool.accept(
            requestID: "r", dedupKey: nil, events: [Events.track("ann", seq: 1)], source: "POST /", dedupWindow: 60)
        let rows = try await onThread { () throws -> [SpoolPendingEvent] in
            _ = try spool.balanceLanes(busy: [])
            return try spool.pendingEvents(after: 0, lanes: SpoolLanes.all, limit: 10)
        }
        // Every commit that counts a delivery fails for now.
        try database.sql("ALTER TABLE encharge_spool.counts ADD CONSTRAINT hold_deliveries CHECK (delivered = 0)")
        spool.settle(.delivered(rows[0].id))
        try await onThread { spool.waitForSettlements() }
        #expect(spool.lastCommitFailure != nil)
        #expect(try database.sql("SELECT count(*) FROM encharge_spool.event") == "1")
        try database.sql("ALTER TABLE encharge_spool.counts DROP CONSTRAINT hold_deliveries")
        try await eventually("the settlement is committed on a later transaction") {
            try database.sql("SELECT count(*) FROM encharge_spool.event") == "0"
        }
        #expect(try await spool.stats().delivered == 1)
        await spool.close()
    }
}
