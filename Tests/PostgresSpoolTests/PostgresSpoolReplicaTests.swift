import EnchargeKit
import EnchargeSpool
import PostgresSpool
import Synchronization
import TestSupport
import Testing

/// Several processes on one PostgreSQL spool, each played by a spool opened separately (its own
/// connections, as a `serve` replica or a `deliver` worker has): dedup decided by the unique
/// constraint, group commit, lanes spread and taken over, commits heard across processes.
@Suite struct PostgresSpoolReplicaTests {
    @Test func theSameDeliveryIDAtTwoReplicasAtOnceIsStoredOnce() async throws {
        let database = try SpoolDatabase()
        let replicas = [try await database.open(), try await database.open()]
        for round in 0..<5 {
            let results = try await withThrowingTaskGroup(of: SpoolAcceptResult.self) { group in
                for attempt in 0..<20 {
                    let replica = replicas[attempt % 2]
                    group.addTask {
                        try await replica.accept(
                            requestID: "r\(round)-\(attempt)", dedupKey: "delivery-\(round)",
                            events: [Events.track("ann", seq: round), Events.track("bob", seq: round)],
                            source: "POST /stripe", dedupWindow: 3600)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { $0 == .accepted }.count == 1, "round \(round): \(results)")
            #expect(results.filter { $0 == .duplicate }.count == 19)
        }
        #expect(try await replicas[0].stats().pending == 10)
        #expect(try database.sql("SELECT count(DISTINCT request_id) FROM encharge_spool.event") == "5")
        for replica in replicas {
            #expect(try await replica.hasSeen(dedupKey: "delivery-3"))
            #expect(try await !replica.hasSeen(dedupKey: "delivery-9"))
            await replica.close()
        }
    }

    @Test func idsFollowCommitOrderAcrossReplicasSoACursorNeverSkipsAnEvent() async throws {
        let database = try SpoolDatabase()
        let replicas = [try await database.open(), try await database.open(), try await database.open()]
        let reader = try await database.open()
        let accepting = Mutex(true)
        // A reader as the worker reads: from a cursor that moves past every id it saw.
        let readerTask = Task.detached {
            try await onThread { () throws -> Int in
                var cursor: Int64 = 0
                var seen = 0
                _ = try reader.balanceLanes(busy: [])
                while true {
                    let stillAccepting = accepting.withLock { $0 }
                    let events = try reader.pendingEvents(after: cursor, lanes: SpoolLanes.all, limit: 50)
                    seen += events.count
                    cursor = events.last?.id ?? cursor
                    if events.isEmpty && !stillAccepting { return seen }
                }
            }
        }
        let perTask = 40
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (number, replica) in replicas.enumerated() {
                for task in 0..<6 {
                    group.addTask {
                        for index in 0..<perTask {
                            _ = try await replica.accept(
                                requestID: "r\(number)-\(task)-\(index)", dedupKey: nil,
                                events: [Events.track("p\(task)", seq: index), Events.track("q\(index)", seq: task)],
                                source: "POST /", dedupWindow: 60)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        accepting.withLock { $0 = false }
        let total = replicas.count * 6 * perTask * 2
        #expect(try await readerTask.value == total, "every committed event was read once, none skipped")
        #expect(try await reader.stats().pending == total)
        for spool in replicas + [reader] { await spool.close() }
    }

    @Test func anExpiredDeliveryIDIsTakenOverAndAcceptedAgain() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        let event = [Events.track("ann", seq: 1)]
        #expect(
            try await spool.accept(requestID: "a", dedupKey: "k", events: event, source: "POST /", dedupWindow: 0.5)
                == .accepted)
        #expect(
            try await spool.accept(requestID: "b", dedupKey: "k", events: event, source: "POST /", dedupWindow: 0.5)
                == .duplicate)
        #expect(try await spool.hasSeen(dedupKey: "k"))
        try await eventually("the 0.5 s window ends") { try await !spool.hasSeen(dedupKey: "k") }
        #expect(
            try await spool.accept(requestID: "c", dedupKey: "k", events: event, source: "POST /", dedupWindow: 0.5)
                == .accepted)
        #expect(try database.sql("SELECT string_agg(request_id, ',' ORDER BY id) FROM encharge_spool.event") == "a,c")
        await spool.close()
    }

    @Test func concurrentAcceptsShareTransactions() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        let before = spool.transactionCount
        let requests = 200
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<requests {
                group.addTask {
                    let result = try await spool.accept(
                        requestID: "r\(index)", dedupKey: "d\(index)",
                        events: [Events.track("p\(index % 7)", seq: index)],
                        source: "POST /", dedupWindow: 60)
                    #expect(result == .accepted)
                }
            }
            try await group.waitForAll()
        }
        let transactions = spool.transactionCount - before
        #expect(transactions < requests / 2, "\(transactions) transactions for \(requests) concurrent requests")
        #expect(try await spool.stats().pending == requests)
        #expect(spool.cachedStats.pending == requests)
        await spool.close()
    }

    @Test func lanesSpreadOverLiveProcessesAndAreTakenOverWhenAHolderDies() async throws {
        let database = try SpoolDatabase()
        let first = try await database.open(lease: 30)
        let second = try await database.open(lease: 30)
        let alone = try await onThread { try first.balanceLanes(busy: []) }
        #expect(alone.count == 64)
        // The second finds every lane taken; the first gives back half on its next round.
        #expect(try await onThread { try second.balanceLanes(busy: []) }.isEmpty)
        let busy: Set<Int> = Set(alone.prefix(40))
        let kept = try await onThread { try first.balanceLanes(busy: busy) }
        #expect(kept.count == 40 && kept == busy, "busy lanes are never given up")
        let taken = try await onThread { try second.balanceLanes(busy: []) }
        #expect(taken.count == 24 && taken.isDisjoint(with: kept))
        let firstNow = try await onThread { try first.balanceLanes(busy: []) }
        #expect(firstNow.count == 32)
        let secondNow = try await onThread { try second.balanceLanes(busy: []) }
        #expect(secondNow.count == 32 && secondNow.isDisjoint(with: firstNow))
        // The first's delivery connection dies (its backend is terminated, as when its process is
        // killed): its locks go with it, and its heartbeat no longer counts although the lease of
        // 30 s has not run out, so the second takes every lane in one round.
        let terminated = try database.sql(
            """
            SELECT pg_terminate_backend(backend_pid) FROM encharge_spool.delivery_process
            WHERE id = '\(first.deliveryProcessID)'
            """)
        #expect(terminated == "t")
        try await eventually("the second process holds every lane") {
            try await onThread { try second.balanceLanes(busy: []) }.count == 64
        }
        // The first reconnects and gets its share back once the second gives it up.
        #expect(try await onThread { try first.balanceLanes(busy: []) }.isEmpty)
        #expect(try await onThread { try second.balanceLanes(busy: []) }.count == 32)
        #expect(try await onThread { try first.balanceLanes(busy: []) }.count == 32)
        // Closing frees the lanes and the heartbeat at once.
        await second.close()
        #expect(try await onThread { try first.balanceLanes(busy: []) }.count == 64)
        await first.close()
    }

    @Test func pendingEventsAreReadByLaneInSpoolOrder() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        let people = (0..<12).map { "person\($0)" }
        for (index, person) in people.enumerated() {
            _ = try await spool.accept(
                requestID: "r\(index)", dedupKey: nil, events: [Events.track(person, seq: index)], source: "POST /",
                dedupWindow: 60)
        }
        let all = try await onThread {
            _ = try spool.balanceLanes(busy: []);
            return try spool.pendingEvents(after: 0, lanes: Set(0..<64), limit: 100)
        }
        #expect(all.map(\.requestID) == people.indices.map { "r\($0)" })
        #expect(all.allSatisfy { $0.lane == SpoolLanes.lane(ofIdentityKey: $0.identityKey) })
        let someLanes = Set(all.prefix(5).map(\.lane))
        let some = try await onThread { try spool.pendingEvents(after: 0, lanes: someLanes, limit: 100) }
        #expect(some.map(\.id) == all.filter { someLanes.contains($0.lane) }.map(\.id))
        let afterCursor = try await onThread { try spool.pendingEvents(after: all[3].id, lanes: Set(0..<64), limit: 2) }
        #expect(afterCursor.map(\.id) == [all[4].id, all[5].id])
        await spool.close()
    }

    @Test func aWorkerHearsAnotherProcesssCommitAtOnce() async throws {
        let database = try SpoolDatabase()
        let worker = try await database.open()
        let replica = try await database.open()
        _ = try await onThread { try worker.balanceLanes(busy: []) }
        let generation = worker.commitGeneration
        let waiter = Task {
            try await onThread {
                let start = ContinuousClock.now
                worker.waitForCommit(after: generation, timeout: 30)
                return ContinuousClock.now - start
            }
        }
        try await eventually("the replica's commit is announced") {
            _ = try await replica.accept(
                requestID: "r", dedupKey: nil, events: [Events.track("ann", seq: 1)], source: "POST /", dedupWindow: 60)
            return worker.commitGeneration != generation
        }
        #expect(try await waiter.value < .seconds(10))
        await replica.close()
        await worker.close()
    }
}
