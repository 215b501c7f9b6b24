import EnchargeKit
import EnchargeSpool
import JSONKit
import TestSupport
import Testing

/// Acceptance on every backend: durable, all or nothing, in emission order, group-committed, and
/// deduplicated by the dedup key's constraint, also between concurrent callers.
@Suite(.timeLimit(.minutes(2)))
struct SpoolAcceptanceTests {
    @Test(arguments: SpoolBackends.all)
    func acceptedEventsAreDurableInEmissionOrderAcrossReopening(backend: any SpoolBackendFactory) async throws {
        let requests = [
            [SpoolFixture.identify("ann"), SpoolFixture.track("ann", seq: 1)],
            [SpoolFixture.track("bob", seq: 2)],
            [SpoolFixture.track("ann", seq: 3), SpoolFixture.track("cy", seq: 4), SpoolFixture.track("ann", seq: 5)],
        ]
        try await backend.withSpool { spool, location in
            #expect(spool.laneCount == SpoolLanes.count)
            for (index, events) in requests.enumerated() {
                let result = try await spool.accept(
                    requestID: "req-\(index)", dedupKey: nil, events: events, source: "POST /hook")
                #expect(result == .accepted)
            }
            await backend.close(spool)
            let reopened = try await backend.open(location)
            let rows = try await reopened.heldPendingEvents(after: 0, lanes: SpoolLanes.all, limit: 100)
            #expect(rows.map(\.wire) == requests.joined().map { $0.wireJSON() })
            #expect(rows.map(\.event) == Array(requests.joined()))
            #expect(rows.map(\.requestID) == ["req-0", "req-0", "req-1", "req-2", "req-2", "req-2"])
            #expect(Set(rows.map(\.source)) == ["POST /hook"])
            #expect(zip(rows, rows.dropFirst()).allSatisfy { $0.id < $1.id }, "ids follow commit order")
            let requestIDs = rows.map(\.request).reduce(into: [Int64]()) { if $0.last != $1 { $0.append($1) } }
            #expect(requestIDs.count == 3, "a request's events are contiguous")
            let stats = try await reopened.stats()
            #expect(stats.pending == 6)
            #expect(stats.oldestPendingAcceptedAt != nil)
            await backend.close(reopened)
        }
    }

    @Test(arguments: SpoolBackends.all)
    func concurrentAcceptsShareTransactions(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            let count = 400
            let before = backend.transactionCount(spool)
            let results = try await withThrowingTaskGroup(of: SpoolAcceptResult.self) { group in
                for index in 0..<count {
                    group.addTask {
                        try await spool.accept(
                            requestID: "r\(index)", dedupKey: "key-\(index)",
                            events: [SpoolFixture.identify("p\(index)"), SpoolFixture.track("p\(index)", seq: index)],
                            source: "t")
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == count && results.allSatisfy { $0 == .accepted })
            let transactions = backend.transactionCount(spool) - before
            #expect(transactions < count / 4, "\(transactions) transactions for \(count) requests: no group commit")
            let rows = try await spool.heldPendingEvents(after: 0, lanes: SpoolLanes.all, limit: 10 * count)
            #expect(rows.count == 2 * count)
            for pair in stride(from: 0, to: rows.count, by: 2) {
                #expect(rows[pair].request == rows[pair + 1].request)
                #expect(rows[pair].event.name == "identify" && rows[pair + 1].event.name == "Paid invoice")
            }
            #expect(try await spool.stats().pending == 2 * count)
            #expect(spool.cachedStats.pending == 2 * count, "this process's own commits show in the cached counts")
        }
    }

    @Test(arguments: SpoolBackends.all)
    func aDedupKeyWithinItsWindowIsADuplicateAndFreeOnceItEnded(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            let event = [SpoolFixture.track("ann", seq: 1)]
            #expect(try await spool.hasSeen(dedupKey: "evt_1") == false)
            #expect(try await spool.accept(requestID: "a", dedupKey: "evt_1", events: event, source: "t") == .accepted)
            #expect(try await spool.hasSeen(dedupKey: "evt_1"))
            #expect(try await spool.accept(requestID: "b", dedupKey: "evt_1", events: event, source: "t") == .duplicate)
            #expect(try await spool.stats().pending == 1, "a duplicate stores nothing")
            // A request without events still records its key.
            #expect(try await spool.accept(requestID: "c", dedupKey: "evt_2", events: [], source: "t") == .accepted)
            #expect(try await spool.hasSeen(dedupKey: "evt_2"))
            // A short window ends: the key is accepted again.
            _ = try await spool.accept(requestID: "d", dedupKey: "evt_3", events: event, source: "t", dedupWindow: 0.05)
            #expect(
                try await eventually("the 50 ms window of evt_3 ends") {
                    try await spool.accept(
                        requestID: "e", dedupKey: "evt_3", events: event, source: "t", dedupWindow: 0.05)
                        == .accepted
                })
            #expect(try await spool.stats().pending == 3)
        }
    }

    @Test(arguments: SpoolBackends.all)
    func concurrentCopiesOfOneDeliveryAreStoredOnce(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            let copies = 24
            let results = try await withThrowingTaskGroup(of: SpoolAcceptResult.self) { group in
                for copy in 0..<copies {
                    group.addTask {
                        try await spool.accept(
                            requestID: "copy-\(copy)", dedupKey: "evt_same",
                            events: [SpoolFixture.track("ann", seq: copy)], source: "t")
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { $0 == .accepted }.count == 1)
            #expect(results.filter { $0 == .duplicate }.count == copies - 1)
            #expect(try await spool.stats().pending == 1)
        }
    }

    @Test(arguments: SpoolBackends.all)
    func failedRequestsAreKeptReplacedCappedListedAndDeleted(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            let request: JSONValue = ["method": "POST", "path": "/hook", "body": "{}"]
            try await spool.keepFailedRequest(requestID: "r1", request: request, error: "boom", traceback: "tb")
            try await spool.keepFailedRequest(requestID: "r2", request: request, error: "bang", traceback: nil)
            try await spool.keepFailedRequest(requestID: "r1", request: request, error: "boom again", traceback: nil)
            var kept = try await spool.failedRequests()
            #expect(kept.map(\.requestID) == ["r2", "r1"], "a second failure replaces the first and is newest")
            #expect(kept.last?.error == "boom again")
            #expect(kept.first?.request == request)
            #expect(try await spool.stats().failedRequests == 2)
            let dropped = try await spool.keepFailedRequest(
                requestID: "r3", request: request, error: "e", traceback: nil,
                cap: SpoolKeptRequestCap(maxCount: 2, maxBytes: 1 << 20))
            #expect(dropped == ["r2"])
            try await spool.deleteFailedRequest("r1")
            try await spool.deleteFailedRequest("unknown")
            kept = try await spool.failedRequests()
            #expect(kept.map(\.requestID) == ["r3"])
        }
    }

    @Test(arguments: SpoolBackends.all)
    func aProbeCommitsAndLeavesNoFailure(backend: any SpoolBackendFactory) async throws {
        try await backend.withSpool { spool, _ in
            await spool.probeCommit()
            #expect(spool.lastCommitFailure == nil)
            let stats = try await spool.stats()
            #expect(stats == SpoolStats())
        }
    }
}
