import EnchargeKit
import Foundation
import GRDB
import JSONKit
import Synchronization
import SystemKit
import TestSupport
import Testing

@testable import EnchargeSpool

/// The spool on its own: durable group-committed accepts, dedup, failed requests, reads in batches.
@Suite(.timeLimit(.minutes(1)))
struct SpoolTests {
    /// A clock the test moves by hand (Unix seconds).
    final class ManualClock: Sendable {
        private let now = Mutex(1_800_000_000.0)
        func read() -> Double { now.withLock { $0 } }
        func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
    }

    static func pending(_ spool: SQLiteSpool, limit: Int = 10_000) throws -> [SpoolPendingEvent] {
        try spool.pendingEvents(after: 0, lanes: SpoolLanes.all, limit: limit)
    }

    // MARK: Storing

    @Test func acceptedEventsAreStoredInOrderAndSurviveReopening() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let requests = [
            [SpoolFixture.identify("ann"), SpoolFixture.track("ann", seq: 1)],
            [SpoolFixture.track("bob", seq: 2)],
            [SpoolFixture.track("ann", seq: 3), SpoolFixture.track("cy", seq: 4), SpoolFixture.track("ann", seq: 5)],
        ]
        do {
            let spool = try SQLiteSpool(path: path)
            for (index, events) in requests.enumerated() {
                let result = try await spool.accept(
                    requestID: "req-\(index)", dedupKey: nil, events: events, source: "POST /hook")
                #expect(result == .accepted)
            }
        }
        let spool = try SQLiteSpool(path: path)
        let rows = try Self.pending(spool)
        #expect(rows.map(\.wire) == requests.flatMap { $0 }.map { $0.wireJSON() })
        #expect(rows.map(\.requestID) == ["req-0", "req-0", "req-1", "req-2", "req-2", "req-2"])
        #expect(Set(rows.map(\.source)) == ["POST /hook"])
        #expect(SpoolFixture.isAscending(rows.map { Int($0.id) }))
        let requestsInOrder = rows.map(\.request).reduce(into: [Int64]()) { if $0.last != $1 { $0.append($1) } }
        #expect(requestsInOrder.count == 3, "a request's events are contiguous")
        #expect(rows.map(\.event) == requests.flatMap { $0 })
        #expect(rows.map(\.identityKey) == requests.flatMap { $0 }.map(\.identityKey))
        #expect(rows.map(\.lane) == requests.flatMap { $0 }.map { SpoolLanes.lane(ofIdentityKey: $0.identityKey) })
        let stats = try await spool.stats()
        #expect(stats.pending == 6)
        #expect(stats.delivered == 0)
        #expect(stats.dead == 0)
        #expect(stats.oldestPendingAcceptedAt != nil)
    }

    @Test func commitsGoToDiskWithWALAndSynchronousFull() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path)
        _ = try await spool.accept(
            requestID: "r", dedupKey: nil, events: [SpoolFixture.track("ann", seq: 1)], source: "t")
        let (journal, synchronous) = try await spool.store.pool.writeWithoutTransaction { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        #expect(journal == "wal")
        #expect(synchronous == 2, "2 is FULL: every accept's commit fsyncs the WAL")
    }

    @Test func concurrentAcceptsAreGroupCommittedAndAllStored() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path)
        let count = 2000
        let started = Date()
        let results = try await withThrowingTaskGroup(of: SpoolAcceptResult.self) { group in
            for index in 0..<count {
                group.addTask {
                    try await spool.accept(
                        requestID: "req-\(index)", dedupKey: "delivery-\(index)",
                        events: [SpoolFixture.identify("p\(index)"), SpoolFixture.track("p\(index)", seq: index)],
                        source: "POST /hook")
                }
            }
            return try await group.reduce(into: [SpoolAcceptResult]()) { $0.append($1) }
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(results.count == count)
        #expect(results.allSatisfy { $0 == .accepted })
        #expect(try await spool.stats().pending == 2 * count)
        let transactions = spool.store.queue.withLock { $0.transactions }
        #expect(transactions < count / 4, "\(transactions) transactions for \(count) requests: no group commit")
        #expect(elapsed < 30, "2000 accepts took \(elapsed) s")
        // Each request's two events stay together and in order.
        let rows = try Self.pending(spool)
        for pair in stride(from: 0, to: rows.count, by: 2) {
            #expect(rows[pair].request == rows[pair + 1].request)
            #expect(rows[pair].event.name == "identify")
            #expect(rows[pair].requestID == rows[pair + 1].requestID)
        }
    }

    @Test func aRequestThatFailsAloneFailsOnlyItsCaller() async throws {
        // Two requests in one transaction: the one whose JSON would break a constraint cannot
        // exist through the API, so break the table instead: a trigger rejects request "bad".
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path)
        try await spool.store.pool.write { db in
            try db.execute(
                sql: """
                    CREATE TEMP TRIGGER reject_bad BEFORE INSERT ON request WHEN NEW.request_id = 'bad'
                    BEGIN SELECT RAISE(ABORT, 'rejected by test'); END
                    """)
        }
        async let good = spool.accept(
            requestID: "good", dedupKey: nil, events: [SpoolFixture.track("a", seq: 1)], source: "t")
        async let bad: Result<SpoolAcceptResult, SpoolError> = {
            do throws(SpoolError) {
                return .success(
                    try await spool.accept(
                        requestID: "bad", dedupKey: "k", events: [SpoolFixture.track("b", seq: 2)], source: "t"))
            } catch {
                return .failure(error)
            }
        }()
        #expect(try await good == .accepted)
        let failure = await bad
        #expect(throws: SpoolError.self) { try failure.get() }
        let rows = try Self.pending(spool)
        #expect(rows.map(\.requestID) == ["good"])
        // The failed request's dedup key was rolled back with it: a retry is accepted.
        try await spool.store.pool.write { db in try db.execute(sql: "DROP TRIGGER reject_bad") }
        #expect(
            try await spool.accept(
                requestID: "bad", dedupKey: "k", events: [SpoolFixture.track("b", seq: 2)], source: "t")
                == .accepted)
    }

    // MARK: Dedup

    @Test func aDedupKeySeenWithinTheWindowIsADuplicateAndAcceptedAfterIt() async throws {
        let clock = ManualClock()
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path, clock: { clock.read() })
        let events = [SpoolFixture.track("ann", seq: 1)]
        func accept() async throws -> SpoolAcceptResult {
            try await spool.accept(requestID: "r", dedupKey: "evt_1", events: events, source: "t", dedupWindow: 3600)
        }
        #expect(try await accept() == .accepted)
        clock.advance(3599)
        #expect(try await accept() == .duplicate)
        #expect(try await spool.stats().pending == 1, "a duplicate stores nothing")
        // The window runs from the first acceptance; a duplicate does not extend it.
        clock.advance(2)
        #expect(try await accept() == .accepted)
        #expect(try await spool.stats().pending == 2)
        #expect(
            try await spool.accept(requestID: "r", dedupKey: "evt_2", events: events, source: "t", dedupWindow: 3600)
                == .accepted, "another key is not a duplicate")
        #expect(try await spool.accept(requestID: "r", dedupKey: nil, events: events, source: "t") == .accepted)
        #expect(try await spool.accept(requestID: "r", dedupKey: nil, events: events, source: "t") == .accepted)
    }

    @Test func theSameKeyTwiceInOneGroupCommitIsStoredOnce() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path)
        let results = try await withThrowingTaskGroup(of: SpoolAcceptResult.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await spool.accept(
                        requestID: "r\(index)", dedupKey: "same", events: [SpoolFixture.track("ann", seq: index)],
                        source: "t")
                }
            }
            return try await group.reduce(into: [SpoolAcceptResult]()) { $0.append($1) }
        }
        #expect(results.filter { $0 == .accepted }.count == 1)
        #expect(results.filter { $0 == .duplicate }.count == 49)
        #expect(try await spool.stats().pending == 1)
    }

    @Test func aRequestWithoutEventsStillRecordsItsDedupKey() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path)
        #expect(try await spool.accept(requestID: "r", dedupKey: "ping-1", events: [], source: "t") == .accepted)
        #expect(try await spool.accept(requestID: "r", dedupKey: "ping-1", events: [], source: "t") == .duplicate)
        #expect(try await spool.stats().pending == 0)
        let requests = try await spool.store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM request") }
        #expect(requests == 0)
    }

    @Test func expiredDedupKeysArePruned() async throws {
        let clock = ManualClock()
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path, clock: { clock.read() })
        for key in ["a", "b", "c"] {
            _ = try await spool.accept(requestID: key, dedupKey: key, events: [], source: "t", dedupWindow: 10)
        }
        clock.advance(61)
        _ = try await spool.accept(requestID: "d", dedupKey: "d", events: [], source: "t", dedupWindow: 10)
        let keys = try await spool.store.pool.read {
            try String.fetchAll($0, sql: "SELECT key FROM dedup ORDER BY key")
        }
        #expect(keys == ["d"])
    }

    // MARK: Failed requests

    @Test func failedRequestsAreKeptListedReplacedAndDeleted() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        do {
            let spool = try SQLiteSpool(path: path)
            let request: JSONValue = [
                "method": "POST", "path": "/stripe", "body": #"{"id":"evt_1"}"#, "n": 12_345_678_901_234_567,
            ]
            try await spool.keepFailedRequest(
                requestID: "r1", request: request, error: "rules.lua:4: attempt to index a nil value",
                traceback: "stack traceback:\n\trules.lua:4: in function 'on_webhook'")
            try await spool.keepFailedRequest(
                requestID: "r2", request: ["path": "/github"], error: "boom", traceback: nil)
        }
        let spool = try SQLiteSpool(path: path)
        var kept = try await spool.failedRequests()
        #expect(kept.map(\.requestID) == ["r1", "r2"])
        #expect(kept[0].request["n"] == .integer(12_345_678_901_234_567), "integers survive as integers")
        #expect(kept[0].request["body"] == .string(#"{"id":"evt_1"}"#))
        #expect(kept[0].error == "rules.lua:4: attempt to index a nil value")
        #expect(kept[0].traceback?.contains("on_webhook") == true)
        #expect(kept[1].traceback == nil)
        #expect(try await spool.stats().failedRequests == 2)
        try await spool.keepFailedRequest(
            requestID: "r2", request: ["path": "/github"], error: "boom again", traceback: nil)
        kept = try await spool.failedRequests()
        #expect(kept.count == 2)
        #expect(kept.first { $0.requestID == "r2" }?.error == "boom again")
        try await spool.deleteFailedRequest("r1")
        try await spool.deleteFailedRequest("no-such-request")
        #expect(try await spool.failedRequests().map(\.requestID) == ["r2"])
    }

    // MARK: Reading in batches

    @Test func aBatchNeverSplitsARequest() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path)
        _ = try await spool.accept(
            requestID: "big", dedupKey: nil, events: (1...5).map { SpoolFixture.track("p\($0)", seq: $0) }, source: "t")
        _ = try await spool.accept(
            requestID: "next", dedupKey: nil, events: [SpoolFixture.track("q", seq: 6)], source: "t")
        let first = try spool.pendingEvents(after: 0, lanes: SpoolLanes.all, limit: 3)
        #expect(first.map(\.requestID) == Array(repeating: "big", count: 5))
        let second = try spool.pendingEvents(after: first.last!.id, lanes: SpoolLanes.all, limit: 3)
        #expect(second.map(\.requestID) == ["next"])
        #expect(try spool.pendingEvents(after: second.last!.id, lanes: SpoolLanes.all, limit: 3).isEmpty)
    }

    @Test func openingAFileThatIsNotASpoolFailsClearly() throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        try Data("this is not a database, just text that is long enough to look like a header....".utf8)
            .write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SpoolError.self) { try SQLiteSpool(path: path) }
        #expect(error?.kind == .open)
        #expect(error?.description.hasPrefix(path) == true)
        #expect(throws: SpoolError.self) {
            try SQLiteSpool(path: "/nonexistent-directory-\(UUID().uuidString)/spool.db")
        }
    }
}
