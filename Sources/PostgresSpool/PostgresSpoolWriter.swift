import EnchargeSpool
import NIOCore
import PostgresNIO
import Synchronization
import SystemKit

/// One event of an accepted request, ready to insert.
struct PostgresEventRow: Sendable {
    var lane: Int16
    var identityKey: [UInt8]
    var wire: [UInt8]
}

/// One accepted request waiting for the next group commit.
struct PostgresAcceptWrite: Sendable {
    var requestID: String
    var dedupKey: String?
    var dedupWindow: Double
    var source: String
    /// In emission order.
    var events: [PostgresEventRow]
    var continuation: CheckedContinuation<Result<SpoolAcceptResult, SpoolError>, Never>
}

/// The work waiting for the writer, and how far it got.
struct PostgresWriteQueue {
    var accepts: [PostgresAcceptWrite] = []
    var failures: [FailedRequestWrite] = []
    var settlements: [SpoolSettlement] = []
    /// Callers of `probeCommit`, told once a durable transaction was tried.
    var probes: [CheckedContinuation<Void, Never>] = []
    /// Settlements handed over so far, and how many of them a finished transaction covered.
    var settlementsQueued: UInt64 = 0
    var settlementsDone: UInt64 = 0
    /// The spool is closing: the writer commits what is queued and takes nothing more.
    var closed = false
    /// Transactions the writer has run (each one commit, whatever it held).
    var transactions = 0
    /// Commits in a row that failed with settlements in them (see `PostgresSpoolWriter.requeue`).
    var settlementFailures = 0

    var isEmpty: Bool { accepts.isEmpty && failures.isEmpty && settlements.isEmpty && probes.isEmpty }
}

/// The group-committing writer: one task with a connection of its own takes everything queued
/// (accepts, kept failed requests, settlements, probes), writes it in one transaction and answers
/// the callers after the commit. Concurrent `accept` calls therefore share a transaction.
///
/// Spool order: a transaction that inserts events holds the spool's order lock (a transaction-level
/// advisory lock) from its first event insert to its commit, so event ids are handed out in commit
/// order across every process: once a reader sees id N, no id below N can still appear. The
/// delivery worker's cursor relies on it.
///
/// Durability: accepts and failed requests commit with the database's `synchronous_commit` (checked
/// on open); a transaction of settlements only commits with `synchronous_commit = off` (losing it to
/// a crash only means those events are sent again).
///
/// Lock order, the same in every transaction, so replicas never deadlock: dedup keys (sorted), the
/// order lock, event rows, kept failed requests, then the one `counts` row last.
final class PostgresSpoolWriter: Sendable {
    let connector: PostgresConnector
    let clock: @Sendable () -> Double
    let queue = ConditionLock(PostgresWriteQueue())
    /// Bumped by every commit that added pending events (here, or heard of from another process),
    /// and by `poke`, for the delivery worker's wait.
    let commits = ConditionLock(UInt64(0))
    /// The spool's counts: adjusted after each of this writer's commits and re-read from the database
    /// about once a second (which picks up other processes' changes). Approximate across processes:
    /// between re-reads it misses other processes' commits (and never goes below 0).
    let cachedStats = Mutex(SpoolStats())
    /// Why the last commit failed and when (clock seconds), nil once one succeeds.
    let commitFailure = Mutex<(reason: String, at: Double)?>(nil)
    private let signals: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    init(connector: PostgresConnector, clock: @escaping @Sendable () -> Double) {
        self.connector = connector
        self.clock = clock
        (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    private var spool: String { connector.spool }

    // MARK: Handing work over

    /// Queues `accept` for the next transaction; answers it at once with `.closed` once closing.
    func enqueue(_ accept: PostgresAcceptWrite) {
        let taken = queue.withLock { queue -> Bool in
            guard !queue.closed else { return false }
            queue.accepts.append(accept)
            return true
        }
        if taken { signal.yield() } else { accept.continuation.resume(returning: .failure(closedError)) }
    }

    /// Queues `failure` for the next transaction; answers it at once with `.closed` once closing.
    func enqueue(_ failure: FailedRequestWrite) {
        let taken = queue.withLock { queue -> Bool in
            guard !queue.closed else { return false }
            queue.failures.append(failure)
            return true
        }
        if taken { signal.yield() } else { failure.continuation.resume(returning: .failure(closedError)) }
    }

    /// Queues a durable probe commit.
    func enqueueProbe(_ probe: CheckedContinuation<Void, Never>) {
        let taken = queue.withLock { queue -> Bool in
            guard !queue.closed else { return false }
            queue.probes.append(probe)
            return true
        }
        if taken { signal.yield() } else { probe.resume() }
    }

    /// Queues how an event ended (dropped once closing: the event stays pending and is sent again).
    func settle(_ settlement: SpoolSettlement) {
        queue.withLock { queue in
            guard !queue.closed else { return }
            queue.settlements.append(settlement)
            queue.settlementsQueued += 1
        }
        signal.yield()
    }

    /// Waits (blocking the calling thread) until every settlement queued before the call is committed
    /// or failed.
    func waitForSettlements() {
        let target = queue.withLock { $0.settlementsQueued }
        queue.withLock(whenReady: { $0.settlementsDone >= target || $0.closed }) { _ in }
    }

    /// Wakes the delivery worker as if something was committed.
    func poke() {
        commits.withLock { $0 &+= 1 }
        commits.broadcast()
    }

    /// Nudges the writer to look at the queue (and at the stats' age).
    func nudge() { signal.yield() }

    /// Stops taking work; the writer commits what is queued, then `run` returns.
    func close() {
        queue.withLock { $0.closed = true }
        queue.broadcast()
        signal.finish()
    }

    private var closedError: SpoolError {
        SpoolError(kind: .closed, message: "the spool is closed and takes no more requests", path: spool)
    }

    // MARK: The writer task

    /// Takes everything queued, commits it in one transaction, answers the callers, and repeats until
    /// closed; re-reads the counts when they are a second old.
    func run() async {
        var connection: PostgresConnection?
        var lastRecount = -Double.infinity
        var lastPrune = clock()
        for await _ in signals {
            // After a failed commit, what it gave back waits for the next signal.
            while let work = takeWork(), await commit(work, on: &connection) {}
            let now = clock()
            if now - lastRecount >= 1 || now < lastRecount {
                lastRecount = now
                await recount(on: &connection)
            }
            if now - lastPrune >= 60 || now < lastPrune {
                lastPrune = now
                await pruneDedup(on: &connection)
            }
        }
        while let work = takeWork() { await commit(work, on: &connection) }
        try? await connection?.close()
    }

    private func takeWork() -> PostgresWriteQueue? {
        queue.withLock { queue -> PostgresWriteQueue? in
            if queue.isEmpty { return nil }
            var taken = PostgresWriteQueue()
            swap(&taken.accepts, &queue.accepts)
            swap(&taken.failures, &queue.failures)
            swap(&taken.settlements, &queue.settlements)
            swap(&taken.probes, &queue.probes)
            taken.settlementsQueued = queue.settlementsQueued
            return taken
        }
    }

    /// The writer's connection, opened again when it was lost (PostgreSQL restarted).
    private func open(_ connection: inout PostgresConnection?) async throws(SpoolError) -> PostgresConnection {
        if let open = connection, !open.isClosed { return open }
        connection = nil
        let opened = try await connector.connect()
        connection = opened
        return opened
    }

    /// Commits one batch and answers its callers. A batch that failed before its `COMMIT` because
    /// the connection was lost (PostgreSQL restarted, the backend was terminated) is run once more
    /// on a new connection, and one the server chose as a deadlock victim or serialization failure
    /// (SQLSTATE 40P01, 40001) up to three times more: nothing of it was stored. When it still
    /// fails, its settlements go back in the queue for a later transaction (they are idempotent:
    /// they only touch rows still pending).
    /// Returns whether it committed.
    @discardableResult
    private func commit(_ work: PostgresWriteQueue, on connection: inout PostgresConnection?) async -> Bool {
        let now = clock()
        var committed = true
        var outcome: BatchOutcome
        var reconnected = false
        var conflicts = 0
        while true {
            do {
                let open = try await open(&connection)
                outcome = try await bounded(open) {
                    try await PostgresTransaction.run(on: open, logger: connector.logger) { connection in
                        try await write(work, now: now, on: connection)
                    }
                }
                commitFailure.withLock { $0 = nil }
                let counted = outcome
                cachedStats.withLock { stats in
                    stats.count(
                        added: counted.added, delivered: counted.delivered, dead: counted.dead,
                        keptFailures: counted.keptFailures)
                }
                queue.withLock { $0.settlementFailures = 0 }
            } catch let error as PostgresTransaction.NotCommitted where !reconnected && connection?.isClosed != false {
                _ = error
                reconnected = true
                connection = nil
                continue
            } catch let error as PostgresTransaction.NotCommitted where conflicts < 3 && Self.isConflict(error) {
                conflicts += 1
                continue
            } catch {
                // Nothing of this transaction is stored (or, when its COMMIT failed, nobody knows):
                // every caller in it hears so and the sender retries.
                let failure = SpoolError.postgres(
                    error, kind: .storage, spool: spool, doing: "cannot commit to the spool")
                commitFailure.withLock { $0 = (failure.message, now) }
                outcome = BatchOutcome(accepts: work.accepts.map { _ in .failure(failure) })
                outcome.failures = work.failures.map { _ in .failure(failure) }
                if let open = connection, !open.isClosed {
                    // A broken transaction can leave the connection unusable: start afresh next time.
                    try? await open.close()
                }
                connection = nil
                requeue(work.settlements)
                committed = false
            }
            break
        }
        for (accept, result) in zip(work.accepts, outcome.accepts) { accept.continuation.resume(returning: result) }
        for (failure, result) in zip(work.failures, outcome.failures) { failure.continuation.resume(returning: result) }
        for probe in work.probes { probe.resume() }
        if outcome.added > 0 { poke() }
        queue.withLock { queue in
            queue.transactions += 1
            queue.settlementsDone = max(queue.settlementsDone, work.settlementsQueued)
        }
        if !work.settlements.isEmpty { queue.broadcast() }
        return committed
    }

    /// Whether the server gave up the transaction as a deadlock victim or a serialization failure.
    private static func isConflict(_ error: PostgresTransaction.NotCommitted) -> Bool {
        guard let error = error.underlying as? PSQLError, error.code == .server else { return false }
        let state = error.serverInfo?[.sqlState]
        return state == "40P01" || state == "40001"
    }

    /// Puts the settlements of a failed commit back at the front of the queue, as new hand-overs (so
    /// a later `waitForSettlements` waits for them), for the next transaction (at the latest the
    /// once-a-second nudge's); after ten failures in a row they are dropped (their events stay
    /// pending and are sent again: at least once).
    private func requeue(_ settlements: [SpoolSettlement]) {
        guard !settlements.isEmpty else { return }
        queue.withLock { queue in
            queue.settlementFailures += 1
            guard queue.settlementFailures <= 10, !queue.closed else { return }
            queue.settlements.insert(contentsOf: settlements, at: 0)
            queue.settlementsQueued += UInt64(settlements.count)
        }
    }

    /// What one batch did, for its callers and the cached counts.
    private struct BatchOutcome: Sendable {
        var accepts: [Result<SpoolAcceptResult, SpoolError>]
        var failures: [Result<[String], SpoolError>] = []
        var added = 0, delivered = 0, dead = 0, keptFailures = 0
    }

    /// The batch's statements, inside its transaction, in the lock order the type's comment gives.
    private func write(_ work: PostgresWriteQueue, now: Double, on connection: PostgresConnection) async throws
        -> BatchOutcome
    {
        let logger = connector.logger
        if work.accepts.isEmpty && work.failures.isEmpty && work.probes.isEmpty {
            try await connection.query("SET LOCAL synchronous_commit = off", logger: logger)
        }
        var outcome = BatchOutcome(accepts: try await dedup(work.accepts, on: connection))
        // Events of the requests that were accepted, in request order, each request's in emission order.
        var requestIndexes: [Int64] = []
        var requestIDs: [String] = []
        var sources: [String] = []
        var lanes: [Int16] = []
        var keys: [ByteBuffer] = []
        var wires: [ByteBuffer] = []
        var requests: Int64 = 0
        for (accept, result) in zip(work.accepts, outcome.accepts) where result == .success(.accepted) {
            guard !accept.events.isEmpty else { continue }
            requests += 1
            for event in accept.events {
                requestIndexes.append(requests)
                requestIDs.append(PostgresText.safe(accept.requestID))
                sources.append(PostgresText.safe(accept.source))
                lanes.append(event.lane)
                keys.append(ByteBuffer(bytes: event.identityKey))
                wires.append(ByteBuffer(bytes: event.wire))
            }
        }
        if requests > 0 {
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(PostgresSpoolSchema.lockClass), \(PostgresSpoolSchema.orderKey))",
                logger: logger)
            try await connection.query(
                """
                WITH r AS MATERIALIZED (
                    SELECT n, nextval('encharge_spool.request_number') AS number FROM generate_series(1, \(requests)) AS n
                )
                INSERT INTO encharge_spool.event (request, request_id, source, accepted_at, lane, identity_key, wire)
                SELECT r.number, e.request_id, e.source, \(now), e.lane, e.identity_key, e.wire
                FROM unnest(\(requestIndexes)::int8[], \(requestIDs)::text[], \(sources)::text[], \(lanes)::int2[],
                            \(keys)::bytea[], \(wires)::bytea[])
                     WITH ORDINALITY AS e(request_index, request_id, source, lane, identity_key, wire, ord)
                JOIN r ON r.n = e.request_index
                ORDER BY e.ord
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(PostgresSpoolSchema.channel), '')", logger: logger)
            outcome.added = wires.count
        }
        (outcome.delivered, outcome.dead) = try await apply(work.settlements, now: now, on: connection)
        for failure in work.failures {
            outcome.failures.append(.success(try await keep(failure, now: now, on: connection)))
            outcome.keptFailures += 1
        }
        let pendingChange = Int64(outcome.added - outcome.delivered - outcome.dead)
        if pendingChange != 0 || outcome.delivered > 0 || outcome.dead > 0 || !work.probes.isEmpty {
            // A probe writes the row (the same values back), so its commit reaches the disk like a request's.
            try await connection.query(
                """
                UPDATE encharge_spool.counts SET pending = pending + \(pendingChange),
                    delivered = delivered + \(Int64(outcome.delivered)), dead = dead + \(Int64(outcome.dead))
                """, logger: logger)
        }
        return outcome
    }

    /// Takes the batch's dedup keys under the unique constraint, sorted (so two replicas lock keys in
    /// the same order): a key is taken when it is new or its window ended. Per accept: `.accepted`,
    /// or `.duplicate` when its key is held (by an earlier commit, another replica's transaction that
    /// committed first, or an earlier request of this batch).
    private func dedup(_ accepts: [PostgresAcceptWrite], on connection: PostgresConnection) async throws
        -> [Result<SpoolAcceptResult, SpoolError>]
    {
        var windows: [String: Double] = [:]
        for accept in accepts {
            guard let key = accept.dedupKey.map(PostgresText.safe), windows[key] == nil else { continue }
            windows[key] = max(0, accept.dedupWindow.isNaN ? 0 : accept.dedupWindow)
        }
        guard !windows.isEmpty else { return accepts.map { _ in .success(.accepted) } }
        let keys = windows.keys.sorted()
        // Expiry on the server's clock, the one every replica shares.
        let rows = try await connection.query(
            """
            INSERT INTO encharge_spool.dedup (key, expires_at)
            SELECT key, extract(epoch FROM now()) + seconds
            FROM unnest(\(keys)::text[], \(keys.map { windows[$0]! })::float8[]) AS t(key, seconds)
            ORDER BY key
            ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                WHERE encharge_spool.dedup.expires_at <= extract(epoch FROM now())
            RETURNING key
            """, logger: connector.logger
        ).collect()
        var taken = Set(try rows.map { try $0.decode(String.self) })
        return accepts.map { accept in
            guard let key = accept.dedupKey.map(PostgresText.safe) else { return .success(.accepted) }
            // The first request of the batch with the key gets it; any later one is a duplicate.
            return .success(taken.remove(key) != nil ? .accepted : .duplicate)
        }
    }

    /// Deletes delivered events and marks dead ones (only while pending: a settlement repeated after
    /// a lane changed hands counts once). Returns how many were delivered and how many marked dead.
    private func apply(_ settlements: [SpoolSettlement], now: Double, on connection: PostgresConnection) async throws
        -> (Int, Int)
    {
        var deliveredIDs: [Int64] = []
        var deadIDs: [Int64] = [], reasons: [String] = [], statuses: [Int32] = [], bodies: [String] = []
        var hasBody: [Bool] = [], attempts: [Int32] = []
        func id(_ settlement: SpoolSettlement) -> Int64 {
            switch settlement {
            case .delivered(let id), .dead(let id, _, _, _, _): id
            }
        }
        // In id order, the order every transaction locks event rows in.
        for settlement in settlements.sorted(by: { id($0) < id($1) }) {
            switch settlement {
            case .delivered(let id):
                deliveredIDs.append(id)
            case .dead(let id, let reason, let status, let body, let tries):
                deadIDs.append(id)
                reasons.append(PostgresText.safe(reason))
                statuses.append(Int32(clamping: status ?? -1))
                bodies.append(PostgresText.safe(body ?? ""))
                hasBody.append(body != nil)
                attempts.append(Int32(clamping: tries))
            }
        }
        let logger = connector.logger
        var delivered = 0
        var dead = 0
        if !deliveredIDs.isEmpty {
            let rows = try await connection.query(
                """
                WITH d AS (
                    DELETE FROM encharge_spool.event WHERE id = ANY(\(deliveredIDs.sorted())::int8[]) AND state = 'pending'
                    RETURNING 1
                )
                SELECT count(*) FROM d
                """, logger: logger
            ).collect()
            delivered = Int(try rows[0].decode(Int64.self))
        }
        if !deadIDs.isEmpty {
            let rows = try await connection.query(
                """
                WITH d AS (
                    UPDATE encharge_spool.event AS e SET state = 'dead', reason = t.reason,
                        http_status = NULLIF(t.status, -1), response_body = CASE WHEN t.has_body THEN t.body END,
                        attempts = t.attempts, settled_at = \(now)
                    FROM unnest(\(deadIDs)::int8[], \(reasons)::text[], \(statuses)::int4[], \(bodies)::text[],
                                \(hasBody)::bool[], \(attempts)::int4[]) AS t(id, reason, status, body, has_body, attempts)
                    WHERE e.id = t.id AND e.state = 'pending'
                    RETURNING 1
                )
                SELECT count(*) FROM d
                """, logger: logger
            ).collect()
            dead = Int(try rows[0].decode(Int64.self))
        }
        return (delivered, dead)
    }

    /// Keeps one failed request (replacing an earlier one of the same id) and trims to its cap;
    /// returns the ids the cap dropped, oldest first.
    private func keep(_ failure: FailedRequestWrite, now: Double, on connection: PostgresConnection)
        async throws -> [String]
    {
        let logger = connector.logger
        try await connection.query(
            """
            INSERT INTO encharge_spool.failed_request (request_id, request, error, traceback, failed_at)
            VALUES (\(PostgresText.safe(failure.requestID)), \(PostgresText.safe(failure.request)),
                    \(PostgresText.safe(failure.error)), \(failure.traceback.map(PostgresText.safe)), \(now))
            ON CONFLICT (request_id) DO UPDATE SET request = excluded.request, error = excluded.error,
                traceback = excluded.traceback, failed_at = excluded.failed_at
            """, logger: logger)
        guard let cap = failure.cap else { return [] }
        let totals = try await connection.query(
            "SELECT count(*), coalesce(sum(octet_length(request)), 0)::int8 FROM encharge_spool.failed_request",
            logger: logger
        ).collect()
        let (count, bytes) = try totals[0].decode((Int64, Int64).self)
        guard count > cap.maxCount || bytes > cap.maxBytes else { return [] }
        let rows = try await connection.query(
            """
            SELECT request_id, octet_length(request) FROM encharge_spool.failed_request
            ORDER BY failed_at DESC, kept DESC
            """, logger: logger
        ).collect()
        let newestFirst = try rows.map { row in
            let (id, size) = try row.decode((String, Int32).self)
            return (id: id, bytes: Int(size))
        }
        let dropped = cap.overflow(newestFirst: newestFirst)
        if !dropped.isEmpty {
            try await connection.query(
                "DELETE FROM encharge_spool.failed_request WHERE request_id = ANY(\(dropped)::text[])", logger: logger)
        }
        return dropped
    }

    /// Seconds one transaction or statement of the writer may take before its connection is given
    /// up as hung (a frozen server, a dead network path): more than a lock wait behind another
    /// replica's transaction can last (the server ends those idle for 15 s).
    static let writeTimeout: Double = 30

    /// Runs `body` on `connection`; closes the connection when `body` takes longer than
    /// `writeTimeout`, so its queries fail (and the writer opens a new one) instead of waiting forever.
    private func bounded<T>(_ connection: PostgresConnection, _ body: () async throws -> T) async throws -> T {
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(Self.writeTimeout))
            if !Task.isCancelled { try? await connection.close() }
        }
        defer { watchdog.cancel() }
        return try await body()
    }

    /// Re-reads the counts (one row and two index probes); leaves them as they were when it fails.
    private func recount(on connection: inout PostgresConnection?) async {
        guard let open = try? await open(&connection),
            let stats = try? await bounded(
                open, { try await PostgresSpoolStatistics.read(on: open, logger: connector.logger) })
        else { return }
        cachedStats.withLock { $0 = stats }
    }

    /// Deletes dedup keys whose window ended (on the server's clock), in statements of their own
    /// of at most 1000 keys each, locked in key order (the order batches lock keys in) and skipping
    /// keys another transaction holds, so it never deadlocks with a batch.
    private func pruneDedup(on connection: inout PostgresConnection?) async {
        guard let open = try? await open(&connection) else { return }
        while true {
            let rows = try? await bounded(open) {
                try await open.query(
                    """
                    WITH gone AS (
                        DELETE FROM encharge_spool.dedup WHERE key IN (
                            SELECT key FROM encharge_spool.dedup WHERE expires_at <= extract(epoch FROM now())
                            ORDER BY key LIMIT 1000 FOR UPDATE SKIP LOCKED)
                        RETURNING 1
                    )
                    SELECT count(*) FROM gone
                    """, logger: connector.logger
                ).collect()
            }
            guard let count = try? rows?.first?.decode(Int64.self), count == 1000 else { return }
        }
    }
}
