import EnchargeSpool
import NIOCore
import PostgresNIO
import Synchronization

/// The delivery half of one process on a PostgreSQL spool: a connection of its own that holds a
/// session-level advisory lock per lane it delivers (PostgreSQL frees them by itself when the
/// connection dies, so a killed process's lanes are free at once), a heartbeat row in
/// `delivery_process`, and `LISTEN` for other processes' commits. Opened on first use, so a
/// process that only accepts never holds one.
///
/// Balance: every call counts the live delivering processes (a heartbeat younger than the lease
/// and a backend that still exists), takes free lanes up to its fair share, ceil(lanes / live), and
/// gives back lanes beyond it that are not busy. A dead process's lanes are free as soon as its
/// connection is gone; the others' shares grow once its heartbeat is ignored (its backend gone, or
/// the lease over), within a balance round or two.
///
/// Frozen holders: the heartbeat is beaten by `beat` (a task of its own, through the pool, about
/// four times a lease), not by the worker thread, so a busy worker keeps its lanes. A process whose
/// heartbeat is older than the lease while its backend still holds lane locks is frozen (stopped,
/// its host gone, its network cut): the next balance of any other process ends that backend
/// (`pg_terminate_backend`), which frees its lanes for the round after.
///
/// Threads: `balance` and `pending` block the calling thread (the delivery worker's own) on
/// `AsyncBridge`, for at most `queryTimeout` seconds each; `close` and `beat` are async.
final class PostgresDeliverySession: Sendable {
    private let connector: PostgresConnector
    private let writer: PostgresSpoolWriter
    /// The pool, for the heartbeat.
    private let client: PostgresClient
    private let laneCount: Int
    /// Seconds a heartbeat counts a process as live.
    private let lease: Double
    /// Seconds a balance round or a read may take before its connection is given up as hung.
    static let queryTimeout: Double = 15
    /// This process's heartbeat row.
    let processID: String
    /// The lanes in the order this process prefers them (rotated by its id, so processes that start
    /// together reach for different lanes first).
    private let preference: [Int]
    private let state = Mutex(State())

    private struct State: Sendable {
        var connection: PostgresConnection?
        var held: Set<Int> = []
        var closed = false
    }

    init(
        connector: PostgresConnector, writer: PostgresSpoolWriter, client: PostgresClient, laneCount: Int,
        lease: Double
    ) {
        self.connector = connector
        self.writer = writer
        self.client = client
        self.laneCount = laneCount
        self.lease = lease
        let id = UInt64.random(in: 1...UInt64.max)
        processID = String(id, radix: 16)
        let offset = Int(id % UInt64(max(1, laneCount)))
        preference = (0..<laneCount).map { ($0 + offset) % laneCount }
    }

    private var spool: String { connector.spool }

    /// The lanes this process holds now.
    var heldLanes: Set<Int> { state.withLock { $0.held } }

    /// The error a hung connection ends a call with.
    private func hung(_ what: String) -> SpoolError {
        SpoolError(
            kind: .storage,
            message:
                "\(what): PostgreSQL did not answer within \(Int(Self.queryTimeout)) s; the delivery connection is closed and opens again on the next lane balance",
            path: spool)
    }

    /// Closes `connection` (when a call on it hung): its lane locks go with it.
    private static func abandon(_ connection: PostgresConnection?) -> @Sendable () async -> Void {
        { try? await connection?.close() }
    }

    /// Beats this process's heartbeat while it holds a delivery connection (called about four times
    /// a lease by a task of the spool's, independent of the worker thread); a failure is left to the
    /// next beat.
    func beat() async {
        let active = state.withLock { !$0.closed && $0.connection != nil }
        guard active else { return }
        _ = try? await client.query(
            "UPDATE encharge_spool.delivery_process SET heartbeat_at = clock_timestamp() WHERE id = \(processID)",
            logger: connector.logger)
    }

    /// Beats the heartbeat, ends frozen holders, then takes or gives back lanes toward the fair
    /// share, never giving up one in `busy`; the lanes held afterwards.
    ///
    /// Before any lane can be given back, every settlement handed over so far is committed: the
    /// next holder reads the lane from its start and must not see an event delivered here as still
    /// pending. A lost connection is opened again, and in the same round it tries to take back the
    /// lanes it held (busy ones first) and nothing more. A busy lane missing from the result was
    /// taken by another process meanwhile: the worker withdraws its events from the wire unsettled
    /// (the new holder sends them). Lanes it got back keep their cursors.
    func balance(busy: Set<Int>) throws(SpoolError) -> Set<Int> {
        writer.waitForSettlements()
        let (connection, held, closed) = state.withLock { ($0.connection, $0.held, $0.closed) }
        if closed { return [] }
        let result = try AsyncBridge.wait(
            timeout: Self.queryTimeout, timedOut: hung("cannot balance the delivery lanes"),
            abandon: Self.abandon(connection)
        ) { [self] () async throws(SpoolError) -> (PostgresConnection, Set<Int>) in
            try await balanceAsync(busy: busy, connection: connection, held: held)
        }
        // `close` ran meanwhile: a connection this round opened is closed too, not left holding lanes.
        let orphan = state.withLock { state -> PostgresConnection? in
            if state.closed { return result.0 }
            state.connection = result.0
            state.held = result.1
            return nil
        }
        if let orphan {
            Task { try? await orphan.close() }
            return []
        }
        return result.1
    }

    private func balanceAsync(
        busy: Set<Int>, connection: PostgresConnection?, held: Set<Int>
    ) async throws(SpoolError) -> (PostgresConnection, Set<Int>) {
        var held = held
        let open: PostgresConnection
        var retake: [Int32] = []
        if let connection, !connection.isClosed {
            open = connection
        } else {
            open = try await connector.connect()
            retake = (held.filter { busy.contains($0) }.sorted() + held.filter { !busy.contains($0) }.sorted())
                .map(Int32.init)
            held = []
            let writer = self.writer
            open.addListener(channel: PostgresSpoolSchema.channel) { _, _ in writer.poke() }
            // Commits made while no connection listened: look once.
            writer.poke()
        }
        let logger = connector.logger
        let lockClass = PostgresSpoolSchema.lockClass
        do {
            let rows = try await open.query(
                """
                WITH beat AS (
                    INSERT INTO encharge_spool.delivery_process (id, backend_pid, heartbeat_at)
                    VALUES (\(processID), pg_backend_pid(), clock_timestamp())
                    ON CONFLICT (id) DO UPDATE SET backend_pid = excluded.backend_pid, heartbeat_at = excluded.heartbeat_at
                ), gone AS (
                    DELETE FROM encharge_spool.delivery_process
                    WHERE heartbeat_at < clock_timestamp() - make_interval(secs => \(lease * 20))
                )
                SELECT 1 + count(*) FROM encharge_spool.delivery_process AS p
                WHERE p.id <> \(processID) AND p.heartbeat_at > clock_timestamp() - make_interval(secs => \(lease))
                  AND EXISTS (
                      SELECT 1 FROM pg_stat_activity AS a
                      WHERE a.pid = p.backend_pid AND a.datname = current_database())
                """, logger: logger
            ).collect()
            // Frozen holders: a stale heartbeat whose backend still holds lane locks (and is no live
            // process's backend: a backend id can be reused), of a role this one may signal. Only
            // in this database: backend ids, sessions and advisory locks are the cluster's, and a
            // stale row's id may now be another database's lane holder.
            try await open.query(
                """
                SELECT pg_terminate_backend(p.backend_pid) FROM encharge_spool.delivery_process AS p
                WHERE p.id <> \(processID) AND p.heartbeat_at < clock_timestamp() - make_interval(secs => \(lease))
                  AND p.backend_pid <> pg_backend_pid()
                  AND EXISTS (
                      SELECT 1 FROM pg_stat_activity AS a
                      WHERE a.pid = p.backend_pid AND a.datname = current_database()
                        AND pg_has_role(a.usesysid, 'MEMBER'))
                  AND EXISTS (
                      SELECT 1 FROM pg_locks AS l
                      WHERE l.pid = p.backend_pid AND l.locktype = 'advisory' AND l.granted
                        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                        AND l.classid = \(lockClass)::oid AND l.objsubid = 2 AND l.objid < \(Int32(laneCount))::oid)
                  AND NOT EXISTS (
                      SELECT 1 FROM encharge_spool.delivery_process AS q
                      WHERE q.backend_pid = p.backend_pid
                        AND q.heartbeat_at >= clock_timestamp() - make_interval(secs => \(lease)))
                """, logger: logger)
            let live = Int(try rows[0].decode(Int64.self))
            let share = (laneCount + live - 1) / live
            if !retake.isEmpty {
                let taken = try await open.query(
                    """
                    SELECT encharge_spool.take_lanes(\(lockClass), \(retake)::int4[], \(Int32(retake.count)))
                    """, logger: logger
                ).collect()
                held.formUnion(try taken[0].decode([Int32].self).map(Int.init))
            } else if held.count > share {
                let release = Array(preference.reversed().filter { held.contains($0) && !busy.contains($0) })
                    .prefix(held.count - share).map(Int32.init)
                if !release.isEmpty {
                    try await open.query(
                        """
                        SELECT pg_advisory_unlock(\(lockClass), lane)
                        FROM unnest(\(Array(release))::int4[]) AS lane
                        """, logger: logger)
                    held.subtract(release.map(Int.init))
                }
            } else if held.count < share {
                let candidates = preference.filter { !held.contains($0) }.map(Int32.init)
                let taken = try await open.query(
                    """
                    SELECT encharge_spool.take_lanes(\(lockClass), \(candidates)::int4[],
                                                     \(Int32(share - held.count)))
                    """, logger: logger
                ).collect()
                held.formUnion(try taken[0].decode([Int32].self).map(Int.init))
            }
        } catch {
            try? await open.close()
            throw .postgres(error, kind: .storage, spool: spool, doing: "cannot balance the delivery lanes")
        }
        return (open, held)
    }

    /// Pending events with id > `cursor` in those of `lanes` this process holds, in spool order, at
    /// most `limit`, plus the rest of the last request's events in those lanes when the limit cut
    /// it. Read on the session's connection, the one holding the lane locks: a lane not held (none
    /// before the first `balance`, none while the connection is lost, since another process may
    /// hold them by now) is not read. Fails with `.closed` once the spool is closed.
    func pending(after cursor: Int64, lanes: Set<Int>, limit: Int) throws(SpoolError) -> [SpoolPendingEvent] {
        let (session, held, closed) = state.withLock { ($0.connection, $0.held, $0.closed) }
        if closed {
            throw SpoolError(kind: .closed, message: "cannot read pending events: the spool is closed", path: spool)
        }
        let readable = lanes.intersection(held)
        guard let session, !readable.isEmpty, limit > 0 else { return [] }
        if session.isClosed {
            throw SpoolError(
                kind: .storage,
                message:
                    "cannot read pending events: the delivery connection was lost; it reopens on the next lane balance",
                path: spool)
        }
        let logger = connector.logger
        let spool = self.spool
        let laneList = readable.sorted().map { Int16($0) }
        return try AsyncBridge.wait(
            timeout: Self.queryTimeout, timedOut: hung("cannot read pending events"), abandon: Self.abandon(session)
        ) { () async throws(SpoolError) -> [SpoolPendingEvent] in
            func read(_ query: PostgresQuery) async throws -> [SpoolPendingEvent] {
                let rows = try await session.query(query, logger: logger).collect()
                return try rows.map { row in
                    let (id, request, requestID, source, lane, key, wire) = try row.decode(
                        (Int64, Int64, String, String, Int16, ByteBuffer, ByteBuffer).self)
                    return SpoolPendingEvent(
                        id: id, request: request, requestID: requestID, source: source, lane: Int(lane),
                        identityKey: String(decoding: key.readableBytesView, as: UTF8.self),
                        wire: Array(wire.readableBytesView))
                }
            }
            do {
                var batch = try await read(
                    """
                    SELECT id, request, request_id, source, lane, identity_key, wire FROM encharge_spool.event
                    WHERE state = 'pending' AND id > \(cursor) AND lane = ANY(\(laneList)::int2[])
                    ORDER BY id LIMIT \(Int64(limit))
                    """)
                if batch.count == limit, let last = batch.last {
                    batch += try await read(
                        """
                        SELECT id, request, request_id, source, lane, identity_key, wire FROM encharge_spool.event
                        WHERE state = 'pending' AND request = \(last.request) AND id > \(last.id)
                          AND lane = ANY(\(laneList)::int2[])
                        ORDER BY id
                        """)
                }
                return batch
            } catch {
                throw .postgres(error, kind: .storage, spool: spool, doing: "cannot read pending events")
            }
        }
    }

    /// Gives back every lane, forgets the heartbeat and closes the connection: when it returns, the
    /// lanes are free for the other processes (not only once the server noticed the close). A
    /// server that does not answer within `queryTimeout` seconds is not waited for: the connection
    /// is closed on this side, and the server frees the locks once it sees that.
    func close() async {
        let connection = state.withLock { state -> PostgresConnection? in
            state.closed = true
            state.held = []
            defer { state.connection = nil }
            return state.connection
        }
        guard let connection, !connection.isClosed else { return }
        let (logger, processID) = (connector.logger, processID)
        let goodbye = Task {
            _ = try? await connection.query("SELECT pg_advisory_unlock_all()", logger: logger)
            _ = try? await connection.query(
                "DELETE FROM encharge_spool.delivery_process WHERE id = \(processID)", logger: logger)
        }
        let deadline = Task {
            try? await Task.sleep(for: .seconds(Self.queryTimeout))
            if !Task.isCancelled { try? await connection.close() }
        }
        await goodbye.value
        deadline.cancel()
        try? await connection.close()
    }
}
