import EnchargeKit
import EnchargeSpool
import Synchronization
import SystemKit
import TestSupport
import Testing

@testable import PostgresSpool

/// Holders that stop answering: a frozen process's lanes are taken over within about two leases, a
/// process whose lock connection was lost takes its lanes back in the same round, a commit waits
/// for the order lock, and the dedup window runs on the server's clock.
@Suite(.timeLimit(.minutes(2)))
struct PostgresSpoolHolderTests {
    static let lockClass = PostgresSpoolSchema.lockClass

    /// Lane locks of the spool's class granted to any backend.
    static func laneLocks(_ database: SpoolDatabase) throws -> Int {
        Int(
            try database.sql(
                """
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                  AND classid = \(lockClass)::oid AND objid < 64
                """)) ?? -1
    }

    @Test func aFrozenHolderLosesItsLanesWithinAboutTwoLeases() async throws {
        let database = try SpoolDatabase()
        // Another delivering process holds every lane and beats its heartbeat once, then freezes
        // (SIGSTOP): its connection stays open, so PostgreSQL alone would never free the lanes.
        let holder = try PostgresSession(cluster: database.cluster, database: database.name)
        defer { holder.end() }
        let lease = 2.0
        // Opening creates the spool's tables.
        await (try await database.open(lease: lease)).close()
        try holder.send(
            """
            SELECT pg_advisory_lock(\(Self.lockClass), lane) FROM generate_series(0, 63) AS lane;
            INSERT INTO encharge_spool.delivery_process (id, backend_pid, heartbeat_at)
            VALUES ('frozen', pg_backend_pid(), clock_timestamp());
            """)
        try await eventually("the holder has every lane") { try Self.laneLocks(database) == 64 }
        holder.freeze()
        let frozenAt = ContinuousClock.now
        let taker = try await database.open(lease: lease)
        #expect(try await onThread { try taker.balanceLanes(busy: []) }.isEmpty, "the frozen holder has them")
        try await eventually("the taker holds every lane", timeout: .seconds(30)) {
            try await onThread { try taker.balanceLanes(busy: []) }.count == 64
        }
        let took = ContinuousClock.now - frozenAt
        #expect(took < .seconds(2 * lease + 2), "took \(took) with a lease of \(lease) s")
        await taker.close()
    }

    @Test func aSpoolInAnotherDatabaseOfTheClusterNeverEndsThisOnesLaneHolder() async throws {
        // Two spools in two databases of one cluster. Backend ids are the cluster's, so a stale
        // heartbeat row in one database can name a backend id that another database's lane holder
        // has since been given; advisory locks and sessions show cluster-wide too. The sweep for
        // frozen holders must look at its own database only.
        let ours = try SpoolDatabase()
        let other = try SpoolDatabase()
        let spool = try await ours.open(lease: 2)
        #expect(try await onThread { try spool.balanceLanes(busy: []) }.count == 64)
        let holderPid = try ours.sql(
            "SELECT backend_pid FROM encharge_spool.delivery_process WHERE id = '\(spool.deliveryProcessID)'")
        let sweeper = try await other.open(lease: 2)
        // The other database's table remembers a long-gone process whose backend id is now ours.
        try other.sql(
            """
            INSERT INTO encharge_spool.delivery_process (id, backend_pid, heartbeat_at)
            VALUES ('gone', \(holderPid), clock_timestamp() - interval '30 seconds');
            """)
        #expect(try await onThread { try sweeper.balanceLanes(busy: []) }.count == 64, "its own lanes are free")
        let alive = try ours.sql("SELECT count(*) FROM pg_stat_activity WHERE pid = \(holderPid)")
        #expect(alive == "1", "the other database's spool ended this one's lane holder")
        #expect(try await onThread { try spool.balanceLanes(busy: []) }.count == 64)
        await sweeper.close()
        await spool.close()
    }

    @Test func aLostLockConnectionTakesBackItsLanesInTheSameRoundButNotOnesTakenMeanwhile() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        #expect(try await onThread { try spool.balanceLanes(busy: []) }.count == 64)
        let thief = try PostgresSession(cluster: database.cluster, database: database.name)
        defer { thief.end() }
        try database.sql(
            """
            SELECT pg_terminate_backend(backend_pid) FROM encharge_spool.delivery_process
            WHERE id = '\(spool.deliveryProcessID)'
            """)
        // Another session takes lane 7 (and waits for it) the moment the dead backend frees it.
        try thief.send("SELECT pg_advisory_lock(\(Self.lockClass), 7);")
        try await eventually("the other session holds lane 7") { try Self.laneLocks(database) == 1 }
        // The first successful round after the loss (one may fail on the dead connection first).
        let held = try await onThread { () throws -> Set<Int> in
            while true {
                if let held = try? spool.balanceLanes(busy: [3, 7]) { return held }
            }
        }
        #expect(held == SpoolLanes.all.subtracting([7]), "every lane back but the one taken meanwhile")
        #expect(held.contains(3), "a busy lane still free is taken back")
        await spool.close()
    }

    @Test func anAcceptCannotCommitWhileAnotherHoldsTheOrderLock() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        let other = try PostgresSession(cluster: database.cluster, database: database.name)
        defer { other.end() }
        try other.send("SELECT pg_advisory_lock(\(Self.lockClass), -1);")
        try await eventually("the other session holds the order lock") {
            try database.sql(
                """
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                  AND classid = \(Self.lockClass)::oid AND objid = 4294967295
                """) == "1"
        }
        let done = Mutex(false)
        let accepting = Task {
            let result = try await spool.accept(
                requestID: "r", dedupKey: nil, events: [Events.track("ann", seq: 1)], source: "POST /",
                dedupWindow: 60)
            done.withLock { $0 = true }
            return result
        }
        try await eventually("the accept waits for the order lock") {
            try database.sql(
                """
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2
                  AND classid = \(Self.lockClass)::oid AND objid = 4294967295
                """) == "1"
        }
        #expect(!done.withLock { $0 }, "answered before its events could be committed in order")
        #expect(try database.sql("SELECT count(*) FROM encharge_spool.event") == "0")
        try other.send("SELECT pg_advisory_unlock(\(Self.lockClass), -1);")
        #expect(try await accepting.value == .accepted)
        #expect(try database.sql("SELECT count(*) FROM encharge_spool.event") == "1")
        await spool.close()
    }

    @Test func readingPendingEventsAfterCloseFailsAsClosed() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        _ = try await spool.accept(
            requestID: "r", dedupKey: nil, events: [Events.track("ann", seq: 1)], source: "POST /", dedupWindow: 60)
        #expect(try await onThread { try spool.balanceLanes(busy: []) }.count == 64)
        await spool.close()
        let error = try await onThread { () -> SpoolError? in
            do throws(SpoolError) {
                _ = try spool.pendingEvents(after: 0, lanes: SpoolLanes.all, limit: 10)
                return nil
            } catch {
                return error
            }
        }
        #expect(error?.kind == .closed)
    }

    @Test func theDedupWindowRunsOnTheServersClockNotAReplicas() async throws {
        let database = try SpoolDatabase()
        // One replica's clock is an hour behind; the window it sets still lasts 60 s for everyone.
        let behind = try await database.open(clock: { SystemClock.wallSeconds() - 3600 })
        let right = try await database.open()
        let event = [Events.track("ann", seq: 1)]
        #expect(
            try await behind.accept(requestID: "a", dedupKey: "k", events: event, source: "POST /", dedupWindow: 60)
                == .accepted)
        #expect(try await right.hasSeen(dedupKey: "k"))
        #expect(
            try await right.accept(requestID: "b", dedupKey: "k", events: event, source: "POST /", dedupWindow: 60)
                == .duplicate)
        // A short window ends on the server's clock, and the key is taken again.
        #expect(
            try await right.accept(requestID: "c", dedupKey: "s", events: event, source: "POST /", dedupWindow: 0.2)
                == .accepted)
        try await eventually("the 0.2 s window ends") { try await !right.hasSeen(dedupKey: "s") }
        #expect(
            try await behind.accept(requestID: "d", dedupKey: "s", events: event, source: "POST /", dedupWindow: 60)
                == .accepted)
        for spool in [behind, right] { await spool.close() }
    }
}
