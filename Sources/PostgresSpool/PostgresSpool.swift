import EnchargeKit
import EnchargeSpool
import JSONKit
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import SystemKit

/// The spool on PostgreSQL, which any number of `serve` replicas and `deliver` workers share: the
/// same protocol and semantics as the SQLite spool, across processes and machines.
///
/// Acceptance: `accept` returns once the request's events are committed with the database's
/// `synchronous_commit` (refused on open when it is `off`). Concurrent requests of a process share
/// one transaction (`PostgresSpoolWriter`). A dedup key is taken under the `dedup` table's unique
/// constraint, so the same delivery id posted to two replicas at once is stored once: the other
/// replica's transaction waits for the first and answers `.duplicate`.
///
/// Delivery: events are stored with their lane; a process delivers a lane only while it holds the
/// lane's session advisory lock on its delivery connection (`PostgresDeliverySession`), so one
/// process at a time sends a lane, in spool (id) order, and a dead process's lanes are free as soon
/// as PostgreSQL sees its connection close.
///
/// Opening checks `synchronous_commit`, then creates or upgrades the schema `encharge_spool` under
/// an advisory lock; a schema written by a newer version is refused and left untouched.
///
/// Connections: one for the writer, one for delivery (once `balanceLanes` is called), and a pool
/// of at most `poolSize` for reads and administration. `close()` ends them all.
package final class PostgresSpool: EventSpool {
    /// The URL without its password.
    package let displayName: String
    package var laneCount: Int { SpoolLanes.count }
    private let connector: PostgresConnector
    private let writer: PostgresSpoolWriter
    private let session: PostgresDeliverySession
    private let client: PostgresClient
    private let tasks: [Task<Void, Never>]

    /// Opens the spool at `url` (`postgres://USER@HOST:PORT/DATABASE`, or `postgresql://`), creating
    /// or upgrading its tables. The password, as libpq picks it: `password` (from
    /// `--spool-password-file`), else the URL's own, else `environmentPassword` (`PGPASSWORD`).
    /// `lease` is how many seconds a delivering process counts as live after its last heartbeat (it
    /// beats about once a second).
    package static func open(
        url: String, password: String?, environmentPassword: String? = nil, lease: Double = 5, poolSize: Int = 8,
        clock: @escaping @Sendable () -> Double = SystemClock.wallSeconds
    ) async throws(SpoolError) -> PostgresSpool {
        let address = try PostgresSpoolAddress(url: url)
        let connector = try PostgresConnector(
            address: address, password: password ?? address.urlPassword ?? environmentPassword)
        let connection = try await connector.connect()
        let stats: SpoolStats
        do {
            try await PostgresSpoolSchema.prepare(
                connection, database: address.database, spool: address.displayName, logger: connector.logger)
            stats = try await PostgresSpoolStatistics.read(on: connection, logger: connector.logger)
        } catch {
            try? await connection.close()
            throw .postgres(error, kind: .open, spool: address.displayName, doing: "cannot open the spool")
        }
        try? await connection.close()
        return PostgresSpool(connector: connector, stats: stats, lease: lease, poolSize: poolSize, clock: clock)
    }

    private init(
        connector: PostgresConnector, stats: SpoolStats, lease: Double, poolSize: Int,
        clock: @escaping @Sendable () -> Double
    ) {
        self.connector = connector
        displayName = connector.spool
        let writer = PostgresSpoolWriter(connector: connector, clock: clock)
        writer.cachedStats.withLock { $0 = stats }
        self.writer = writer
        let client = connector.makeClient(maximumConnections: poolSize)
        self.client = client
        let session = PostgresDeliverySession(
            connector: connector, writer: writer, client: client, laneCount: SpoolLanes.count, lease: lease)
        self.session = session
        tasks = [
            Task { await client.run() },
            Task { await writer.run() },
            // The writer re-reads the counts about once a second, also while no request comes.
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    writer.nudge()
                }
            },
            // The heartbeat, independent of the delivery worker's thread (see PostgresDeliverySession).
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(max(0.05, lease / 4)))
                    await session.beat()
                }
            },
        ]
    }

    deinit {
        writer.close()
        tasks[2].cancel()
        tasks[3].cancel()
        let (session, client, writing) = (session, tasks[0], tasks[1])
        // Lanes are given up only after the last settlements are committed (see `close`).
        Task {
            await writing.value
            await session.close()
            client.cancel()
        }
    }

    /// Commits what is queued (settlements included), then closes every connection: the lanes this
    /// process held are free at once, and their next holder sees every settlement. Later calls fail
    /// with `.closed`.
    package func close() async {
        writer.close()
        await tasks[1].value
        await session.close()
        for task in tasks { task.cancel() }
    }

    /// Transactions the writer has committed or tried (for tests of group commit).
    package var transactionCount: Int { writer.queue.withLock { $0.transactions } }

    /// This process's heartbeat id among the delivering processes.
    package var deliveryProcessID: String { session.processID }

    // MARK: Acceptance

    package func accept(
        requestID: String, dedupKey: String?, events: [Event], source: String, dedupWindow: Double
    ) async throws(SpoolError) -> SpoolAcceptResult {
        if events.isEmpty && dedupKey == nil { return .accepted }
        let rows = events.map { event in
            let key = event.identityKey
            return PostgresEventRow(
                lane: Int16(SpoolLanes.lane(ofIdentityKey: key)), identityKey: Array(key.utf8), wire: event.wireJSON())
        }
        let result = await withCheckedContinuation { continuation in
            writer.enqueue(
                PostgresAcceptWrite(
                    requestID: requestID, dedupKey: dedupKey, dedupWindow: dedupWindow, source: source, events: rows,
                    continuation: continuation))
        }
        return try result.get()
    }

    package func keepFailedRequest(
        requestID: String, request: JSONValue, error: String, traceback: String?, cap: SpoolKeptRequestCap?
    ) async throws(SpoolError) -> [String] {
        var json = JSONWriter(capacity: 1024)
        json.write(request)
        let text = String(decoding: json.bytes, as: UTF8.self)
        let result = await withCheckedContinuation { continuation in
            writer.enqueue(
                FailedRequestWrite(
                    requestID: requestID, request: text, error: error, traceback: traceback, cap: cap,
                    continuation: continuation))
        }
        return try result.get()
    }

    /// Whether `dedupKey` was taken and its window has not ended, on the server's clock (the one
    /// the window was set by). A request's pre-check, so it fails fast rather than wait: at once
    /// while the writer's commits fail (PostgreSQL is likely away; `accept`'s unique constraint
    /// decides alone), and after `dedupLookupTimeout` seconds without a pool connection or answer.
    package func hasSeen(dedupKey: String) async throws(SpoolError) -> Bool {
        let doing = "cannot read the dedup table"
        if let failure = lastCommitFailure {
            throw SpoolError(
                kind: .storage, message: "\(doing): the spool cannot commit (\(failure.reason))", path: displayName)
        }
        let (client, logger, spool) = (client, connector.logger, displayName)
        let key = PostgresText.safe(dedupKey)
        return try await AsyncBridge.within(
            Self.dedupLookupTimeout,
            timedOut: SpoolError(
                kind: .storage,
                message:
                    "\(doing): PostgreSQL did not answer within \(Int(Self.dedupLookupTimeout)) s; check that it runs",
                path: spool)
        ) { () async throws(SpoolError) -> Bool in
            do {
                let rows = try await client.query(
                    """
                    SELECT expires_at > extract(epoch FROM now()) FROM encharge_spool.dedup WHERE key = \(key)
                    """, logger: logger
                ).collect()
                return try rows.first.map { try $0.decode(Bool.self) } ?? false
            } catch {
                throw .postgres(error, kind: .storage, spool: spool, doing: doing)
            }
        }
    }

    /// How long `hasSeen` waits for a pool connection and its answer.
    static let dedupLookupTimeout: Double = 1

    package func probeCommit() async {
        await withCheckedContinuation { continuation in writer.enqueueProbe(continuation) }
    }

    /// This process's view of the counts, re-read about once a second: approximate across
    /// processes (other replicas' commits since the re-read are missing), never below 0.
    package var cachedStats: SpoolStats { writer.cachedStats.withLock { $0 } }

    package var lastCommitFailure: (reason: String, age: Double)? {
        let now = writer.clock()
        return writer.commitFailure.withLock { $0.map { ($0.reason, now - $0.at) } }
    }

    // MARK: Administration

    package func stats() async throws(SpoolError) -> SpoolStats {
        let logger = connector.logger
        do {
            return try await client.withConnection { connection in
                try await PostgresSpoolStatistics.read(on: connection, logger: logger)
            }
        } catch {
            throw .postgres(error, kind: .storage, spool: displayName, doing: "cannot read the spool's counts")
        }
    }

    /// Puts every dead event back in line after everything pending now, in their old order, under
    /// the order lock (so the new ids are in commit order too), and returns how many.
    package func requeueDeadEvents() async throws(SpoolError) -> Int {
        let logger = connector.logger
        let moved: Int64
        do {
            moved = try await client.withConnection { connection in
                try await PostgresTransaction.run(on: connection, logger: logger) { connection in
                    try await connection.query(
                        """
                        SELECT pg_advisory_xact_lock(\(PostgresSpoolSchema.lockClass), \(PostgresSpoolSchema.orderKey))
                        """, logger: logger)
                    let rows = try await connection.query(
                        """
                        WITH moved AS (
                            DELETE FROM encharge_spool.event WHERE state = 'dead'
                            RETURNING id, request, request_id, source, accepted_at, lane, identity_key, wire
                        ), inserted AS (
                            INSERT INTO encharge_spool.event
                                (request, request_id, source, accepted_at, lane, identity_key, wire)
                            SELECT request, request_id, source, accepted_at, lane, identity_key, wire
                            FROM moved ORDER BY id
                            RETURNING 1
                        )
                        SELECT count(*) FROM inserted
                        """, logger: logger
                    ).collect()
                    let count = try rows[0].decode(Int64.self)
                    if count > 0 {
                        try await connection.query(
                            "UPDATE encharge_spool.counts SET pending = pending + \(count), dead = dead - \(count)",
                            logger: logger)
                        try await connection.query(
                            "SELECT pg_notify(\(PostgresSpoolSchema.channel), '')", logger: logger)
                    }
                    return count
                }
            }
        } catch {
            throw .postgres(error, kind: .storage, spool: displayName, doing: "cannot requeue dead events")
        }
        if moved > 0 {
            // Dead events back in line: `dead` down, `pending` up by as many.
            writer.cachedStats.withLock { $0.count(dead: -Int(moved)) }
            writer.poke()
        }
        return Int(moved)
    }

    package func deadEvents(limit: Int) async throws(SpoolError) -> [SpoolDeadEvent] {
        let logger = connector.logger
        let rows: [PostgresRow]
        do {
            rows = try await client.query(
                """
                SELECT id, request_id, wire, reason, http_status, response_body, attempts, settled_at
                FROM encharge_spool.event WHERE state = 'dead' ORDER BY id LIMIT \(Int64(max(0, limit)))
                """, logger: logger
            ).collect()
        } catch {
            throw .postgres(error, kind: .storage, spool: displayName, doing: "cannot read dead events")
        }
        var events: [SpoolDeadEvent] = []
        for row in rows {
            let decoded: (Int64, String, ByteBuffer, String?, Int32?, String?, Int32?, Double?)
            do {
                decoded = try row.decode((Int64, String, ByteBuffer, String?, Int32?, String?, Int32?, Double?).self)
            } catch {
                throw .postgres(error, kind: .storage, spool: displayName, doing: "cannot read dead events")
            }
            let (id, requestID, wire, reason, status, body, attempts, deadAt) = decoded
            events.append(
                SpoolDeadEvent(
                    id: id, requestID: requestID,
                    event: try parse(String(decoding: wire.readableBytesView, as: UTF8.self), what: "dead event"),
                    reason: reason ?? "", status: status.map(Int.init), body: body, attempts: Int(attempts ?? 0),
                    deadAt: deadAt ?? 0))
        }
        return events
    }

    package func failedRequests() async throws(SpoolError) -> [SpoolFailedRequest] {
        let rows: [PostgresRow]
        do {
            rows = try await client.query(
                """
                SELECT request_id, request, error, traceback, failed_at FROM encharge_spool.failed_request
                ORDER BY failed_at, kept
                """, logger: connector.logger
            ).collect()
        } catch {
            throw .postgres(error, kind: .storage, spool: displayName, doing: "cannot read failed requests")
        }
        var requests: [SpoolFailedRequest] = []
        for row in rows {
            let decoded: (String, String, String, String?, Double)
            do {
                decoded = try row.decode((String, String, String, String?, Double).self)
            } catch {
                throw .postgres(error, kind: .storage, spool: displayName, doing: "cannot read failed requests")
            }
            let (requestID, request, error, traceback, failedAt) = decoded
            requests.append(
                SpoolFailedRequest(
                    requestID: requestID, request: try parse(request, what: "failed request"), error: error,
                    traceback: traceback, failedAt: failedAt))
        }
        return requests
    }

    package func deleteFailedRequest(_ requestID: String) async throws(SpoolError) {
        do {
            try await client.query(
                "DELETE FROM encharge_spool.failed_request WHERE request_id = \(PostgresText.safe(requestID))",
                logger: connector.logger)
        } catch {
            throw .postgres(
                error, kind: .storage, spool: displayName, doing: "cannot delete failed request \(requestID)")
        }
    }

    private func parse(_ text: String, what: String) throws(SpoolError) -> JSONValue {
        do {
            return try JSONValue(parsing: text)
        } catch {
            throw SpoolError(kind: .storage, message: "a stored \(what) is not valid JSON: \(error)", path: displayName)
        }
    }

    // MARK: Delivery (the worker's thread)

    package func balanceLanes(busy: Set<Int>) throws(SpoolError) -> Set<Int> {
        try session.balance(busy: busy)
    }

    package func pendingEvents(after cursor: Int64, lanes: Set<Int>, limit: Int) throws(SpoolError)
        -> [SpoolPendingEvent]
    {
        try session.pending(after: cursor, lanes: lanes, limit: limit)
    }

    package func settle(_ settlement: SpoolSettlement) { writer.settle(settlement) }

    package func waitForSettlements() { writer.waitForSettlements() }

    package var commitGeneration: UInt64 { writer.commits.withLock { $0 } }

    package func waitForCommit(after generation: UInt64, timeout: Double) {
        writer.commits.withLock(whenReady: { $0 != generation }, timeout: timeout) { _ in }
    }

    package func wake() { writer.poke() }
}
