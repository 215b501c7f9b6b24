import EnchargeKit
import GRDB
import JSONKit
import Synchronization
import SystemKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The durable SQLite spool behind `encharge-lua serve`, the default `EventSpool`: accepted webhook
/// requests are on disk before the server answers, and the delivery worker drains them in the
/// background, across restarts. One machine; for several, the PostgreSQL spool.
///
/// Durability: the spool runs SQLite in WAL mode with `synchronous=FULL`, so every commit fsyncs
/// the write-ahead log before `accept` returns: a request that was answered survives a crash of the
/// process, `kill -9` and a power loss. Concurrent requests are group-committed: one transaction,
/// one fsync, for every request waiting at that moment, so the fsync is paid once per batch, not
/// once per request.
///
/// Delivery is at least once: an event the Ingest API accepted but the spool had not yet marked
/// delivered when the process died is sent again after the restart.
///
/// Threads: `accept` and `keepFailedRequest` hand their rows to one writer thread (SQLite blocks, so
/// never on Swift's cooperative pool) and suspend until it committed them. The administration
/// methods (`stats`, `requeueDeadEvents`, ...) run on GRDB's own threads; the delivery methods
/// read on the worker's thread. Several processes may open the same file (`replay --spool` next
/// to a running server); a write waits up to 10 seconds for another process's. Only one of them
/// delivers: the holder of its `SpoolOwnerLock`, which holds every lane.
///
/// Opening refuses a file that is not SQLite, a SQLite database that is not a spool, and a spool
/// upgraded by a newer version; a new spool file is created with mode 0600.
package final class SQLiteSpool: EventSpool {
    /// The database file.
    package let path: String
    /// The database file's path, as given.
    package var displayName: String { path }
    /// `SpoolLanes.count`, like every spool.
    package var laneCount: Int { SpoolLanes.count }
    let store: SpoolStore
    private let writer: JoinableThread

    /// Opens or creates the spool at `path` (its directory must exist) and upgrades its schema.
    package convenience init(path: String) throws(SpoolError) {
        try self.init(path: path, clock: SystemClock.wallSeconds)
    }

    /// `init(path:)` with a replaceable clock (Unix seconds), for tests of the dedup window.
    init(path: String, clock: @escaping @Sendable () -> Double) throws(SpoolError) {
        self.path = path
        // The spool holds people's data: owner-only. SQLite gives its -wal and -shm files the
        // database file's mode, so they are created 0600 too.
        try Self.createPrivately(path)
        let pool: DatabasePool
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.label = "encharge-spool"
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB turns WAL on with synchronous=NORMAL (a commit is durable once checkpointed);
            // the spool answers a webhook only after its commit, so each commit must reach the disk.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try pool.read { db in try SpoolSchema.checkIsSpool(db, path: path) }
            try SpoolSchema.migrator.migrate(pool)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw SpoolError(
                kind: .open, message: "is not a SQLite database, so not a spool; pass a spool or a new file to --spool",
                path: path)
        } catch {
            throw .wrapping(error, kind: .open, path: path, doing: "cannot open the spool")
        }
        let store = SpoolStore(path: path, pool: pool, clock: clock)
        store.recountStats()
        guard let writer = JoinableThread.start({ store.runWriter() }) else {
            throw SpoolError(kind: .open, message: "cannot start the spool's writer thread", path: path)
        }
        self.store = store
        self.writer = writer
    }

    /// Creates the file with mode 0600 when it does not exist yet; an existing file keeps its mode.
    private static func createPrivately(_ path: String) throws(SpoolError) {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if fd >= 0 {
            close(fd)
        } else if errno != EEXIST {
            let reason = String(cString: strerror(errno))
            throw SpoolError(
                kind: .open, message: "cannot create the spool: \(reason); check the directory", path: path)
        }
    }

    deinit {
        store.enqueue { $0.closed = true }
        store.commits.broadcast()
        writer.join()
    }

    /// `EventSpool.accept`: on disk (one fsync per group commit) when it returns.
    package func accept(
        requestID: String, dedupKey: String?, events: [Event], source: String, dedupWindow: Double
    ) async throws(SpoolError) -> SpoolAcceptResult {
        if events.isEmpty && dedupKey == nil { return .accepted }
        let bodies = events.map(StoredEvent.init)
        let result = await withCheckedContinuation { continuation in
            store.enqueue { queue in
                queue.accepts.append(
                    AcceptWrite(
                        requestID: requestID, dedupKey: dedupKey, dedupWindow: dedupWindow.isNaN ? 0 : dedupWindow,
                        source: source, events: bodies, continuation: continuation))
            }
        }
        return try result.get()
    }

    /// `EventSpool.keepFailedRequest`, group-committed with the accepted requests.
    @discardableResult
    package func keepFailedRequest(
        requestID: String, request: JSONValue, error: String, traceback: String?, cap: SpoolKeptRequestCap?
    ) async throws(SpoolError) -> [String] {
        var writer = JSONWriter(capacity: 1024)
        writer.write(request)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        let result = await withCheckedContinuation { continuation in
            store.enqueue { queue in
                queue.failures.append(
                    FailedRequestWrite(
                        requestID: requestID, request: text, error: error, traceback: traceback, cap: cap,
                        continuation: continuation))
            }
        }
        return try result.get()
    }

    /// What the spool holds now, read from the file.
    package func stats() async throws(SpoolError) -> SpoolStats {
        do {
            return try await store.pool.read { db in try SpoolStore.stats(db) }
        } catch {
            throw .wrapping(error, kind: .storage, path: path, doing: "cannot read the spool's counts")
        }
    }

    /// What the spool holds, as the writer thread last counted it: never touches SQLite, so async
    /// code may call it. Exact for this process's own writes; other processes' changes show within
    /// about a second of this process's next commit.
    package var cachedStats: SpoolStats { store.cachedStats.withLock { $0 } }

    /// Why the spool's last commit failed (e.g. the disk is full) and how many seconds ago, nil
    /// once a commit succeeded.
    package var lastCommitFailure: (reason: String, age: Double)? {
        let now = store.clock()
        return store.commitFailure.withLock { $0.map { ($0.reason, now - $0.at) } }
    }

    /// Tries one small durable commit on the writer thread (after what is queued), updating
    /// `lastCommitFailure`: lets a server that stopped committing see the disk recover while no
    /// request arrives.
    package func probeCommit() async {
        await withCheckedContinuation { continuation in
            store.enqueue { $0.probes.append(continuation) }
        }
    }

    /// Puts every dead event back in line, after everything pending now (spool order among them
    /// kept), and returns how many. A running `SpoolDeliveryWorker`, in this process or another,
    /// picks them up.
    package func requeueDeadEvents() async throws(SpoolError) -> Int {
        let count: Int
        do {
            count = try await store.transaction(durable: true) { db in
                guard let last = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM event WHERE state = 'dead'") else {
                    return 0
                }
                try db.execute(
                    sql: """
                        INSERT INTO event (request, json, lane, identity_key)
                        SELECT request, json, lane, identity_key FROM event WHERE state = 'dead' AND id <= ? ORDER BY id
                        """, arguments: [last])
                let moved = db.changesCount
                try db.execute(sql: "DELETE FROM event WHERE state = 'dead' AND id <= ?", arguments: [last])
                return moved
            }
        } catch {
            throw .wrapping(error, kind: .storage, path: path, doing: "cannot requeue dead events")
        }
        if count > 0 {
            store.recountStats()
            store.poke()
        }
        return count
    }

    /// Dead events in spool order, at most `limit`, with the reason, last status and body, and attempts.
    package func deadEvents(limit: Int) async throws(SpoolError) -> [SpoolDeadEvent] {
        do {
            let rows = try await store.pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT event.id, request.request_id, event.json, event.reason, event.http_status,
                               event.response_body, event.attempts, event.settled_at
                        FROM event JOIN request ON request.id = event.request
                        WHERE event.state = 'dead' ORDER BY event.id LIMIT ?
                        """, arguments: [limit])
            }
            return try rows.map { row throws(SpoolError) in
                let json: String = row[2]
                return SpoolDeadEvent(
                    id: row[0], requestID: row[1], event: try parse(json, what: "dead event"), reason: row[3] ?? "",
                    status: row[4], body: row[5], attempts: row[6] ?? 0, deadAt: row[7] ?? 0)
            }
        } catch {
            throw .wrapping(error, kind: .storage, path: path, doing: "cannot read dead events")
        }
    }

    /// The kept failed requests, oldest first.
    package func failedRequests() async throws(SpoolError) -> [SpoolFailedRequest] {
        do {
            let rows = try await store.pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT request_id, request, error, traceback, failed_at FROM failed_request
                        ORDER BY failed_at, rowid
                        """)
            }
            return try rows.map { row throws(SpoolError) in
                let json: String = row[1]
                return SpoolFailedRequest(
                    requestID: row[0], request: try parse(json, what: "failed request"), error: row[2],
                    traceback: row[3], failedAt: row[4])
            }
        } catch {
            throw .wrapping(error, kind: .storage, path: path, doing: "cannot read failed requests")
        }
    }

    /// Forgets a kept failed request (after `replay` ran it again); no error when there is none.
    package func deleteFailedRequest(_ requestID: String) async throws(SpoolError) {
        do {
            try await store.transaction(durable: true) { db in
                try db.execute(sql: "DELETE FROM failed_request WHERE request_id = ?", arguments: [requestID])
            }
        } catch {
            throw .wrapping(error, kind: .storage, path: path, doing: "cannot delete failed request \(requestID)")
        }
    }

    private func parse(_ text: String, what: String) throws(SpoolError) -> JSONValue {
        do {
            return try JSONValue(parsing: text)
        } catch {
            throw SpoolError(kind: .storage, message: "a stored \(what) is not valid JSON: \(error)", path: path)
        }
    }
}
