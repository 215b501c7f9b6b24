import EnchargeKit
import GRDB
import JSONKit
import Synchronization
import SystemKit

/// One accepted request waiting for the next group commit.
struct AcceptWrite {
    var requestID: String
    var dedupKey: String?
    var dedupWindow: Double
    var source: String
    /// The events, in emission order.
    var events: [StoredEvent]
    var continuation: CheckedContinuation<Result<SpoolAcceptResult, SpoolError>, Never>
}

/// One failed request waiting for a backend's next group commit (both backends queue these).
package struct FailedRequestWrite: Sendable {
    package var requestID: String
    /// The request's JSON text.
    package var request: String
    package var error: String
    package var traceback: String?
    package var cap: SpoolKeptRequestCap?
    /// Hears the ids of older kept requests the cap dropped, oldest first.
    package var continuation: CheckedContinuation<Result<[String], SpoolError>, Never>

    package init(
        requestID: String, request: String, error: String, traceback: String?, cap: SpoolKeptRequestCap?,
        continuation: CheckedContinuation<Result<[String], SpoolError>, Never>
    ) {
        self.requestID = requestID
        self.request = request
        self.error = error
        self.traceback = traceback
        self.cap = cap
        self.continuation = continuation
    }
}

/// The work waiting for the writer thread, and how far it got.
struct WriteQueue {
    var accepts: [AcceptWrite] = []
    var failures: [FailedRequestWrite] = []
    var settlements: [SpoolSettlement] = []
    /// Callers of `SQLiteSpool.probeCommit`, told once a durable transaction was tried.
    var probes: [CheckedContinuation<Void, Never>] = []
    /// Settlements handed to the queue so far, and how many of them a finished transaction covered.
    var settlementsQueued: UInt64 = 0
    var settlementsDone: UInt64 = 0
    /// Threads in `SpoolStore.waitForSettlements`: the writer commits settlements at once for them.
    var settlementWaiters = 0
    /// `SQLiteSpool.deinit` began: the writer drains what is queued and exits.
    var closed = false
    /// Transactions the writer has run (each one fsync when it stored a request).
    var transactions = 0

    var isEmpty: Bool { accepts.isEmpty && failures.isEmpty && settlements.isEmpty && probes.isEmpty }

    /// Whether the writer should commit now rather than wait for more settlements: someone waits
    /// on a commit (a request, a probe, `waitForSettlements`), enough settlements piled up, or the
    /// queue closed.
    var isDue: Bool {
        !accepts.isEmpty || !failures.isEmpty || !probes.isEmpty || settlementWaiters > 0 || closed
            || settlements.count >= SpoolStore.settlementBatch
    }
}

/// The spool's shared half: the database, the write queue and the commit signal. The writer thread
/// holds it (not the `SQLiteSpool`), so the `SQLiteSpool` can be released and its deinit can stop the thread.
final class SpoolStore: Sendable {
    let path: String
    let pool: DatabasePool
    let queue = ConditionLock(WriteQueue())
    /// Bumped after every commit that added pending events (and by `poke`), for the worker's wait.
    let commits = ConditionLock(UInt64(0))
    let clock: @Sendable () -> Double
    /// When expired dedup keys were last deleted (used by the writer thread only).
    private let lastPrune = Mutex(0.0)
    /// The spool's counts, kept by the writer thread after each commit (recounted from the file at
    /// most once a second, which also picks up other processes' changes), so the server reads them
    /// without touching SQLite.
    let cachedStats = Mutex(SpoolStats(pending: 0, delivered: 0, dead: 0, failedRequests: 0))
    /// When `cachedStats` was last recounted (writer thread only).
    private let lastRecount = Mutex(-Double.infinity)
    /// Why the last commit failed and when (clock seconds), nil once one succeeds.
    let commitFailure = Mutex<(reason: String, at: Double)?>(nil)

    init(path: String, pool: DatabasePool, clock: @escaping @Sendable () -> Double) {
        self.path = path
        self.pool = pool
        self.clock = clock
    }

    /// Hands work to the writer thread.
    func enqueue(_ change: (inout WriteQueue) -> Void) {
        queue.withLock(change)
        queue.broadcast()
    }

    /// Queues how an event ended, for the writer's next transaction. Wakes the writer only when
    /// its queue was empty or the settlements now fill a batch: in between it is either busy or
    /// waiting out `settlementDelay` anyway.
    func settle(_ settlement: SpoolSettlement) {
        let wake = queue.withLock { queue -> Bool in
            let wasEmpty = queue.isEmpty
            queue.settlements.append(settlement)
            queue.settlementsQueued += 1
            return wasEmpty || queue.settlements.count == Self.settlementBatch
        }
        if wake { queue.broadcast() }
    }

    /// Wakes the delivery worker as if something was committed.
    func poke() {
        commits.withLock { $0 &+= 1 }
        commits.broadcast()
    }

    /// Waits until every settlement queued before this call is committed (or failed).
    func waitForSettlements() {
        let target = queue.withLock { queue in
            queue.settlementWaiters += 1
            return queue.settlementsQueued
        }
        queue.broadcast()
        queue.withLock(whenReady: { $0.settlementsDone >= target || $0.closed }) { $0.settlementWaiters -= 1 }
    }

    // MARK: The writer thread

    /// Settlements the writer lets pile up before it commits them without a request to commit.
    static let settlementBatch = 512
    /// How long (seconds) the writer lets settlements wait for more before it commits them alone.
    static let settlementDelay = 0.02

    /// Takes everything queued, writes it in one transaction (one fsync), answers the callers, and
    /// repeats; returns once the queue is closed and empty. Settlements alone wait up to
    /// `settlementDelay` for more (or for a request to share their transaction), so marking events
    /// delivered costs a few transactions a second, not one per event the worker settles.
    func runWriter() {
        while true {
            let due = queue.withLock(whenReady: { !$0.isEmpty || $0.closed }) { $0.isDue }
            if !due {
                queue.withLock(whenReady: { $0.isDue }, timeout: Self.settlementDelay) { _ in }
            }
            let work = queue.withLock { queue -> WriteQueue? in
                if queue.isEmpty { return nil }
                var taken = WriteQueue()
                swap(&taken.accepts, &queue.accepts)
                swap(&taken.failures, &queue.failures)
                swap(&taken.settlements, &queue.settlements)
                swap(&taken.probes, &queue.probes)
                taken.settlementsQueued = queue.settlementsQueued
                return taken
            }
            guard let work else {
                if queue.withLock({ $0.closed }) { return }
                continue
            }
            commit(work)
        }
    }

    /// Commits one batch and answers its callers. A batch of settlements only is committed with
    /// `synchronous=NORMAL` (no fsync; the next durable commit syncs it too): losing it to a power
    /// cut only means those events are sent again. A batch with any request is committed with FULL.
    private func commit(_ work: WriteQueue) {
        var results = BatchResults(accepts: work.accepts.count, failures: work.failures.count)
        let now = clock()
        let durable = !work.accepts.isEmpty || !work.failures.isEmpty || !work.probes.isEmpty
        do {
            do {
                // The common case: every statement succeeds, so no request needs a savepoint.
                try transaction(durable: durable) { db in try write(work, now: now, isolating: false, &results, db) }
            } catch  where !work.accepts.isEmpty || !work.failures.isEmpty {
                // Something failed and the transaction rolled back: again, each request in a
                // savepoint of its own, so one that fails alone fails only its caller.
                results = BatchResults(accepts: work.accepts.count, failures: work.failures.count)
                try transaction(durable: durable) { db in try write(work, now: now, isolating: true, &results, db) }
            }
        } catch {
            // Nothing of this transaction is on disk: every caller in it hears so. Settlements are
            // lost too; their events stay pending and are sent again after a restart (at least once).
            results.fail(.wrapping(error, kind: .storage, path: path, doing: "cannot commit to the spool"))
        }
        // The counts first: a caller's next request must see the events this batch added.
        if let error = results.commitError {
            commitFailure.withLock { $0 = (error.message, now) }
        } else {
            commitFailure.withLock { $0 = nil }
            let counted = results
            cachedStats.withLock { stats in
                stats.pending += counted.addedEventCount - counted.deliveredCount - counted.deadCount
                stats.delivered += counted.deliveredCount
                stats.dead += counted.deadCount
                stats.failedRequests += counted.keptFailures
            }
            recountIfDue()
        }
        for (accept, result) in zip(work.accepts, results.accepts) { accept.continuation.resume(returning: result!) }
        for (index, failure) in work.failures.enumerated() {
            failure.continuation.resume(
                returning: results.failures[index].map { .failure($0) } ?? .success(results.droppedFailures[index]))
        }
        for probe in work.probes { probe.resume() }
        if results.addedEvents { poke() }
        queue.withLock { queue in
            queue.transactions += 1
            queue.settlementsDone = max(queue.settlementsDone, work.settlementsQueued)
        }
        if !work.settlements.isEmpty { queue.broadcast() }
    }

    /// Recounts `cachedStats` from the file when the last recount is a second old.
    private func recountIfDue() {
        let now = clock()
        let due = lastRecount.withLock { last -> Bool in
            guard now - last >= 1 || now < last else { return false }
            last = now
            return true
        }
        if due { recountStats() }
    }

    /// Recounts `cachedStats` from the file; leaves it as it was when the read fails.
    func recountStats() {
        if let stats = try? readStats() { cachedStats.withLock { $0 = stats } }
    }

    /// The spool's counts, read from the file.
    func readStats() throws -> SpoolStats {
        try pool.read(Self.stats)
    }

    /// The spool's counts, read in `db`.
    static func stats(_ db: Database) throws -> SpoolStats {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT (SELECT COUNT(*) FROM event WHERE state = 'pending'),
                       (SELECT value FROM counter WHERE name = 'delivered'),
                       (SELECT COUNT(*) FROM event WHERE state = 'dead'),
                       (SELECT COUNT(*) FROM failed_request),
                       (SELECT accepted_at FROM request WHERE id =
                           (SELECT request FROM event WHERE state = 'pending' ORDER BY id LIMIT 1))
                """)!
        return SpoolStats(
            pending: row[0], delivered: row[1] ?? 0, dead: row[2], failedRequests: row[3],
            oldestPendingAcceptedAt: row[4])
    }

    /// Runs `body` in one immediate transaction on the writer connection. Every user of that
    /// connection sets `synchronous` first (a pragma, no I/O), so a durable commit never inherits
    /// NORMAL from a settlements-only one.
    func transaction<T>(durable: Bool, _ body: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in try Self.immediateTransaction(durable: durable, db, body) }
    }

    /// `transaction(durable:_:)` for async code: waits for the writer connection without holding a thread.
    func transaction<T: Sendable>(durable: Bool, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.writeWithoutTransaction { db in try Self.immediateTransaction(durable: durable, db, body) }
    }

    private static func immediateTransaction<T>(durable: Bool, _ db: Database, _ body: (Database) throws -> T) throws
        -> T
    {
        try db.execute(sql: durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
        var result: T?
        try db.inTransaction(.immediate) {
            result = try body(db)
            return .commit
        }
        return result!
    }

    /// What one batch's callers will hear once its transaction ends.
    private struct BatchResults {
        var accepts: [Result<SpoolAcceptResult, SpoolError>?]
        var failures: [SpoolError?]
        /// Per failure: the kept requests its cap dropped.
        var droppedFailures: [[String]]
        /// Some request added pending events (the worker should look).
        var addedEvents = false
        /// What the batch changed, for `cachedStats`.
        var addedEventCount = 0, deliveredCount = 0, deadCount = 0, keptFailures = 0
        /// Why the whole transaction failed, if it did.
        var commitError: SpoolError?

        init(accepts: Int, failures: Int) {
            self.accepts = Array(repeating: nil, count: accepts)
            self.failures = Array(repeating: nil, count: failures)
            droppedFailures = Array(repeating: [], count: failures)
        }

        mutating func fail(_ error: SpoolError) {
            accepts = accepts.map { _ in .failure(error) }
            failures = failures.map { _ in error }
            addedEvents = false
            commitError = error
        }
    }

    /// The batch's statements, inside its transaction. Isolating, each request runs in a savepoint
    /// and one that fails alone (its savepoint rolled back) fails only its caller; otherwise the
    /// first failure throws and rolls the whole transaction back.
    private func write(
        _ work: WriteQueue, now: Double, isolating: Bool, _ results: inout BatchResults, _ db: Database
    ) throws {
        for (index, accept) in work.accepts.enumerated() {
            do {
                var outcome = SpoolAcceptResult.accepted
                if isolating {
                    try db.inSavepoint {
                        outcome = try Self.insert(accept, now: now, db)
                        return .commit
                    }
                } else {
                    outcome = try Self.insert(accept, now: now, db)
                }
                results.accepts[index] = .success(outcome)
                if outcome == .accepted && !accept.events.isEmpty {
                    results.addedEvents = true
                    results.addedEventCount += accept.events.count
                }
            } catch  where isolating {
                results.accepts[index] = .failure(
                    .wrapping(error, kind: .storage, path: path, doing: "cannot store request \(accept.requestID)"))
            }
        }
        let keepFailure = try db.cachedStatement(
            sql: """
                INSERT INTO failed_request (request_id, request, error, traceback, failed_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (request_id) DO UPDATE SET request = excluded.request, error = excluded.error,
                    traceback = excluded.traceback, failed_at = excluded.failed_at
                """)
        for (index, failure) in work.failures.enumerated() {
            do {
                try keepFailure.execute(
                    arguments: [failure.requestID, failure.request, failure.error, failure.traceback, now])
                if let cap = failure.cap { results.droppedFailures[index] = try Self.trimKeptRequests(to: cap, db) }
                results.keptFailures += 1
            } catch  where isolating {
                results.failures[index] = .wrapping(
                    error, kind: .storage, path: path, doing: "cannot keep failed request \(failure.requestID)")
            }
        }
        (results.deliveredCount, results.deadCount) = try Self.apply(work.settlements, now: now, db)
        // A probe writes a page (the same value back), so its commit reaches the disk like a request's.
        if !work.probes.isEmpty {
            try db.execute(sql: "UPDATE counter SET value = value WHERE name = 'delivered'")
        }
        try pruneDedup(now: now, db)
    }

    /// Deletes the oldest kept requests until the rest fit `cap` (the newest always stays);
    /// returns the ids deleted, oldest first.
    private static func trimKeptRequests(to cap: SpoolKeptRequestCap, _ db: Database) throws -> [String] {
        let totals = try Row.fetchOne(
            db, sql: "SELECT count(*), coalesce(sum(length(CAST(request AS BLOB))), 0) FROM failed_request")
        guard let totals, totals[0] as Int > cap.maxCount || totals[1] as Int > cap.maxBytes else { return [] }
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT request_id, length(CAST(request AS BLOB)) FROM failed_request
                ORDER BY failed_at DESC, rowid DESC
                """)
        let dropped = cap.overflow(newestFirst: rows.map { (id: $0[0], bytes: $0[1]) })
        let delete = try db.cachedStatement(sql: "DELETE FROM failed_request WHERE request_id = ?")
        for id in dropped { try delete.execute(arguments: [id]) }
        return dropped
    }

    /// Stores one request unless its dedup key is still fresh.
    private static func insert(_ accept: AcceptWrite, now: Double, _ db: Database) throws -> SpoolAcceptResult {
        // The key's primary key decides: a fresh key (no row, or its window ended) is written, a
        // key still in its window changes nothing and makes this request a duplicate.
        if let key = accept.dedupKey {
            try db.cachedStatement(
                sql: """
                    INSERT INTO dedup (key, expires_at) VALUES (?, ?)
                    ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE dedup.expires_at <= ?
                    """
            ).execute(arguments: [key, now + max(0, accept.dedupWindow), now])
            if db.changesCount == 0 { return .duplicate }
        }
        guard !accept.events.isEmpty else { return .accepted }
        // The statements are the spool's own with their arguments counted here, so GRDB's
        // per-call argument check is skipped.
        let insertRequest = try db.cachedStatement(
            sql: "INSERT INTO request (request_id, source, accepted_at) VALUES (?, ?, ?)")
        insertRequest.setUncheckedArguments([accept.requestID, accept.source, now])
        try insertRequest.execute()
        let request = db.lastInsertedRowID
        let insertEvent = try db.cachedStatement(
            sql: "INSERT INTO event (request, json, lane, identity_key) VALUES (?, ?, ?, ?)")
        for event in accept.events {
            insertEvent.setUncheckedArguments([request, event.json, event.lane, event.identityKey])
            try insertEvent.execute()
        }
        return .accepted
    }

    /// Deletes delivered events (counting them) and the requests they emptied; marks dead ones.
    /// Returns how many were delivered and how many marked dead.
    private static func apply(_ settlements: [SpoolSettlement], now: Double, _ db: Database) throws -> (Int, Int) {
        guard !settlements.isEmpty else { return (0, 0) }
        var delivered = 0
        var dead = 0
        var touched: [Int64] = []
        let deleteEvent = try db.cachedStatement(sql: "DELETE FROM event WHERE id = ? RETURNING request")
        let markDead = try db.cachedStatement(
            sql: """
                UPDATE event SET state = 'dead', reason = ?, http_status = ?, response_body = ?, attempts = ?,
                    settled_at = ?
                WHERE id = ? AND state = 'pending'
                """)
        for settlement in settlements {
            switch settlement {
            case .delivered(let id):
                deleteEvent.setUncheckedArguments([id])
                if let request = try Int64.fetchOne(deleteEvent) {
                    delivered += 1
                    if touched.last != request { touched.append(request) }
                }
            case .dead(let id, let reason, let status, let body, let attempts):
                try markDead.execute(arguments: [reason, status, body, attempts, now, id])
                dead += db.changesCount
            }
        }
        if delivered > 0 {
            try db.cachedStatement(sql: "UPDATE counter SET value = value + ? WHERE name = 'delivered'")
                .execute(arguments: [delivered])
        }
        let deleteRequest = try db.cachedStatement(
            sql: "DELETE FROM request WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM event WHERE request = ?1)")
        for request in Set(touched) { try deleteRequest.execute(arguments: [request]) }
        return (delivered, dead)
    }

    /// Deletes dedup keys whose window ended, at most once a minute.
    private func pruneDedup(now: Double, _ db: Database) throws {
        let due = lastPrune.withLock { last -> Bool in
            guard now - last >= 60 || now < last else { return false }
            last = now
            return true
        }
        if due { try db.execute(sql: "DELETE FROM dedup WHERE expires_at <= ?", arguments: [now]) }
    }
}
