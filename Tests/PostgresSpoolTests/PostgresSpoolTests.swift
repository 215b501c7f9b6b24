import EnchargeKit
import EnchargeSpool
import JSONKit
import PostgresSpool
import SystemKit
import TestSupport
import Testing

/// The PostgreSQL spool against a real cluster: accept, deliver by lanes, settle, requeue.
@Suite struct PostgresSpoolTests {
    @Test func acceptedEventsAreDeliveredByLaneInSpoolOrderAndSettled() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        #expect(
            try await spool.accept(
                requestID: "r1", dedupKey: nil, events: [Events.track("ann", seq: 1), Events.track("bob", seq: 1)],
                source: "POST /hooks", dedupWindow: 60) == .accepted)
        #expect(
            try await spool.accept(
                requestID: "r2", dedupKey: "d2", events: [Events.track("ann", seq: 2)], source: "POST /hooks",
                dedupWindow: 60) == .accepted)
        #expect(try await spool.stats().pending == 3)
        let lanes = try await onThread { try spool.balanceLanes(busy: []) }
        #expect(lanes == Set(0..<64))
        let pending = try await onThread { try spool.pendingEvents(after: 0, lanes: lanes, limit: 10) }
        #expect(pending.map(\.requestID) == ["r1", "r1", "r2"])
        #expect(
            pending.map(\.identityKey) == [
                Events.track("ann", seq: 1).identityKey, Events.track("bob", seq: 1).identityKey,
                Events.track("ann", seq: 2).identityKey,
            ])
        #expect(
            pending.map(\.wire) == [
                Events.track("ann", seq: 1).wireJSON(), Events.track("bob", seq: 1).wireJSON(),
                Events.track("ann", seq: 2).wireJSON(),
            ])
        spool.settle(.delivered(pending[0].id))
        spool.settle(.dead(pending[1].id, reason: "refused", status: 422, body: "no\u{0}pe", attempts: 3))
        try await onThread { spool.waitForSettlements() }
        let stats = try await spool.stats()
        #expect(stats.pending == 1 && stats.delivered == 1 && stats.dead == 1)
        let dead = try await spool.deadEvents(limit: 10)
        #expect(dead.map(\.reason) == ["refused"])
        #expect(dead.first?.body == "no\u{FFFD}pe")
        #expect(try await spool.requeueDeadEvents() == 1)
        let again = try await onThread { try spool.pendingEvents(after: 0, lanes: lanes, limit: 10) }
        #expect(again.map(\.requestID) == ["r2", "r1"])
        #expect(again[1].id > pending[2].id)
        await spool.close()
    }
}

/// The cached counts of a replica miss other replicas' commits until the next re-read; they are
/// approximate, never negative.
@Suite struct PostgresSpoolCachedStatsTests {
    @Test func aReplicaDeliveringEventsAnotherAcceptedSinceItsRecountNeverCountsBelowZero() async throws {
        let database = try SpoolDatabase()
        let delivering = try await database.open()
        let accepting = try await database.open()
        // Many, so the delivering replica's writer commits some before its once-a-second re-read.
        let count = 40
        for index in 0..<count {
            _ = try await accepting.accept(
                requestID: "r\(index)", dedupKey: nil, events: [Events.track("ann", seq: index)], source: "POST /",
                dedupWindow: 60)
        }
        let lanes = try await onThread { try delivering.balanceLanes(busy: []) }
        let pending = try await onThread { try delivering.pendingEvents(after: 0, lanes: lanes, limit: count) }
        #expect(pending.count == count)
        for event in pending {
            delivering.settle(.delivered(event.id))
            #expect(delivering.cachedStats.pending >= 0)
        }
        try await onThread { delivering.waitForSettlements() }
        #expect(delivering.cachedStats.pending >= 0, "\(delivering.cachedStats)")
        #expect(try await delivering.stats().pending == 0)
        await accepting.close()
        await delivering.close()
    }
}

/// Lost connections (PostgreSQL restarted, a backend terminated) are opened again.
@Suite struct PostgresSpoolReconnectionTests {
    @Test func everyConnectionOfTheSpoolIsOpenedAgainAfterItsBackendWasTerminated() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        #expect(
            try await spool.accept(
                requestID: "r1", dedupKey: "k1", events: [Events.track("ann", seq: 1)], source: "POST /",
                dedupWindow: 60) == .accepted)
        #expect(try await onThread { try spool.balanceLanes(busy: []) }.count == 64)
        #expect(try await spool.hasSeen(dedupKey: "k1"))
        let terminated = try database.sql(
            """
            SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                  WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t
            """)
        #expect(Int(terminated) ?? 0 >= 3, "the writer's, the delivery session's and the pool's")
        // The writer's batch meets the closed connection and runs again on a new one.
        #expect(
            try await spool.accept(
                requestID: "r2", dedupKey: "k2", events: [Events.track("ann", seq: 2)], source: "POST /",
                dedupWindow: 60) == .accepted)
        #expect(spool.lastCommitFailure == nil)
        // The delivery session takes its lanes back in the round it reconnects (nobody took them).
        #expect(try await onThread { try spool.balanceLanes(busy: [5]) } == SpoolLanes.all)
        let pending = try await onThread { try spool.pendingEvents(after: 0, lanes: SpoolLanes.all, limit: 10) }
        #expect(pending.map(\.requestID) == ["r1", "r2"])
        try await eventually("the pool reads again") { (try? await spool.stats().pending) == 2 }
        await spool.close()
    }

    /// While PostgreSQL is down, a webhook's dedup pre-check fails within about a second (no pool
    /// connection comes), and at once after a commit failed, so the request gets its 503 promptly.
    @Test(.timeLimit(.minutes(1)))
    func theDedupPreCheckFailsPromptlyWhilePostgresIsDown() async throws {
        try await PostgresCluster.with { cluster in
            let url = cluster.url(database: try cluster.createDatabase())
            let spool = try await PostgresSpool.open(url: url, password: cluster.password)
            cluster.stop()
            let started = SystemClock.monotonicSeconds()
            let error = await #expect(throws: SpoolError.self) { try await spool.hasSeen(dedupKey: "k1") }
            #expect(SystemClock.monotonicSeconds() - started < 3)
            #expect(
                error?.description
                    == "\(spool.displayName): cannot read the dedup table: PostgreSQL did not answer within 1 s; check that it runs"
            )
            await #expect(throws: SpoolError.self) {
                try await spool.accept(
                    requestID: "r1", dedupKey: "k1", events: [Events.track("ann", seq: 1)], source: "POST /",
                    dedupWindow: 60)
            }
            let failure = try #require(spool.lastCommitFailure)
            let again = SystemClock.monotonicSeconds()
            let refusal = await #expect(throws: SpoolError.self) { try await spool.hasSeen(dedupKey: "k1") }
            #expect(SystemClock.monotonicSeconds() - again < 0.5)
            #expect(
                refusal?.description
                    == "\(spool.displayName): cannot read the dedup table: the spool cannot commit (\(failure.reason))")
            await spool.close()
        }
    }
}
