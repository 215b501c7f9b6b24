import EnchargeKit
import EnchargeSpool
import JSONKit
import SystemKit
import TestSupport
import Testing

/// What the delivery worker reads and writes on every backend: lanes, batches that never split a
/// request, settlements, dead events and their requeue, the counts and the commit signal.
@Suite(.timeLimit(.minutes(2)))
struct SpoolDeliveryReadTests {
    /// One request per person `p0`...`p<count-1>`, two events each.
    static func acceptPeople(_ spool: any EventSpool, count: Int) async throws {
        for index in 0..<count {
            _ = try await spool.accept(
                requestID: "req-\(index)", dedupKey: nil,
                events: [SpoolFixture.identify("p\(index)"), SpoolFixture.track("p\(index)", seq: index)],
                source: "POST /hook")
        }
    }

    @Test(arguments: SpoolBackends.all)
    func eventsAreStoredWithTheLaneOfTheirPersonAndReadByLane(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            try await Self.acceptPeople(spool, count: 40)
            let all = try await spool.heldPendingEvents(after: 0, lanes: SpoolLanes.all, limit: 1000)
            #expect(all.count == 80)
            for row in all {
                #expect(row.identityKey == row.event.identityKey)
                #expect(row.lane == SpoolLanes.lane(ofIdentityKey: row.identityKey))
            }
            let someLanes = Set(all.prefix(10).map(\.lane))
            let inLanes = try await spool.heldPendingEvents(after: 0, lanes: someLanes, limit: 1000)
            #expect(inLanes == all.filter { someLanes.contains($0.lane) }, "exactly those lanes, in spool order")
            let otherLanes = SpoolLanes.all.subtracting(someLanes)
            let rest = try await spool.heldPendingEvents(after: 0, lanes: otherLanes, limit: 1000)
            #expect(Set(inLanes.map(\.id)).union(rest.map(\.id)) == Set(all.map(\.id)))
            #expect(try await spool.heldPendingEvents(after: 0, lanes: [], limit: 1000).isEmpty)
            let after = all[40].id
            #expect(
                try await spool.heldPendingEvents(after: after, lanes: SpoolLanes.all, limit: 1000) == Array(all[41...])
            )
        }
    }

    @Test(arguments: SpoolBackends.all)
    func aBatchNeverSplitsARequest(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            _ = try await spool.accept(
                requestID: "big", dedupKey: nil, events: (1...5).map { SpoolFixture.track("p\($0)", seq: $0) },
                source: "t")
            _ = try await spool.accept(
                requestID: "next", dedupKey: nil, events: [SpoolFixture.track("q", seq: 6)], source: "t")
            let first = try await spool.heldPendingEvents(after: 0, lanes: SpoolLanes.all, limit: 3)
            #expect(first.map(\.requestID) == Array(repeating: "big", count: 5))
            let second = try await spool.heldPendingEvents(after: first.last!.id, lanes: SpoolLanes.all, limit: 3)
            #expect(second.map(\.requestID) == ["next"])
            #expect(try await spool.heldPendingEvents(after: second.last!.id, lanes: SpoolLanes.all, limit: 3).isEmpty)
        }
    }

    @Test(arguments: SpoolBackends.all)
    func theOnlyDeliveringProcessHoldsEveryLane(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            let held = try await onThread { try spool.balanceLanes(busy: []) }
            #expect(held == SpoolLanes.all)
            let heldWhileBusy = try await onThread { try spool.balanceLanes(busy: [3, 7]) }
            #expect(heldWhileBusy == SpoolLanes.all)
        }
    }

    @Test(arguments: SpoolBackends.all)
    func settlementsDeleteDeliveredEventsAndKeepDeadOnesUntilRequeued(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            try await Self.acceptPeople(spool, count: 4)
            let rows = try await spool.heldPendingEvents(after: 0, lanes: SpoolLanes.all, limit: 100)
            spool.settle(.delivered(rows[0].id))
            spool.settle(
                .dead(rows[1].id, reason: "HTTP 422: invalid email", status: 422, body: "{\"e\":1}", attempts: 1))
            spool.settle(.delivered(rows[2].id))
            spool.settle(.dead(rows[5].id, reason: "HTTP 400", status: 400, body: nil, attempts: 3))
            try await spool.settlementsCommitted()
            var stats = try await spool.stats()
            #expect(stats.pending == 4)
            #expect(stats.delivered == 2)
            #expect(stats.dead == 2)
            let pending = try await spool.heldPendingEvents(after: 0, lanes: SpoolLanes.all, limit: 100)
            #expect(pending.map(\.id) == [rows[3].id, rows[4].id, rows[6].id, rows[7].id])
            let dead = try await spool.deadEvents()
            #expect(dead.map(\.id) == [rows[1].id, rows[5].id])
            #expect(dead.map(\.requestID) == ["req-0", "req-2"])
            #expect(dead[0].event == (try JSONValue(parsing: rows[1].wire)))
            #expect(dead[0].reason == "HTTP 422: invalid email")
            #expect(dead[0].status == 422 && dead[0].body == "{\"e\":1}" && dead[0].attempts == 1)
            #expect(dead[1].status == 400 && dead[1].body == nil && dead[1].attempts == 3)
            #expect(dead.allSatisfy { $0.deadAt > 0 })
            #expect(try await spool.deadEvents(limit: 1).count == 1)

            // Requeued: after everything pending, in their old order, with their lanes.
            #expect(try await spool.requeueDeadEvents() == 2)
            #expect(try await spool.requeueDeadEvents() == 0)
            #expect(try await spool.deadEvents().isEmpty)
            let requeued = try await spool.heldPendingEvents(after: 0, lanes: SpoolLanes.all, limit: 100)
            #expect(requeued.map(\.wire) == [3, 4, 6, 7, 1, 5].map { rows[$0].wire })
            #expect(requeued.suffix(2).map(\.lane) == [rows[1].lane, rows[5].lane])
            #expect(requeued.suffix(2).map(\.requestID) == ["req-0", "req-2"])
            #expect(requeued.last!.id > rows.last!.id)
            stats = try await spool.stats()
            #expect(stats.pending == 6 && stats.dead == 0 && stats.delivered == 2)
        }
    }

    @Test(arguments: SpoolBackends.all)
    func theCountsFollowWhatIsStored(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            #expect(try await spool.stats() == SpoolStats())
            let before = SystemClock.wallSeconds()
            try await Self.acceptPeople(spool, count: 3)
            try await spool.keepFailedRequest(requestID: "f", request: ["a": 1], error: "e", traceback: nil)
            let rows = try await spool.heldPendingEvents(after: 0, lanes: SpoolLanes.all, limit: 100)
            let stats = try await spool.stats()
            #expect(stats.pending == 6 && stats.delivered == 0 && stats.dead == 0 && stats.failedRequests == 1)
            let oldest = try #require(stats.oldestPendingAcceptedAt)
            #expect(abs(oldest - before) < 60, "accepted at \(oldest), the test began at \(before)")
            for row in rows.prefix(2) { spool.settle(.delivered(row.id)) }
            try await spool.settlementsCommitted()
            let later = try await spool.stats()
            #expect(later.pending == 4 && later.delivered == 2)
            #expect(try #require(later.oldestPendingAcceptedAt) >= oldest)
        }
    }

    @Test(arguments: SpoolBackends.all)
    func aCommitWithEventsAndAWakeBumpTheGeneration(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            let start = spool.commitGeneration
            try await Self.acceptPeople(spool, count: 1)
            try await onThread { spool.waitForCommit(after: start, timeout: 10) }
            #expect(spool.commitGeneration != start)
            let afterAccept = spool.commitGeneration
            spool.wake()
            try await onThread { spool.waitForCommit(after: afterAccept, timeout: 10) }
            #expect(spool.commitGeneration != afterAccept)
            // Without a commit, the wait ends after its timeout.
            let clock = ContinuousClock()
            let quiet = spool.commitGeneration
            let waited = try await onThread { clock.measure { spool.waitForCommit(after: quiet, timeout: 0.05) } }
            #expect(waited >= .milliseconds(40))
        }
    }
}
