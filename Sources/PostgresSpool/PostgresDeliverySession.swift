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
/// Threads: `balance` and `pending` block the calling thread (the delivery worker's own) on
/// `AsyncBridge`; `close` is async.
final class PostgresDeliverySession: Sendable {
    private let connector: PostgresConnector
    private let writer: PostgresSpoolWriter
    private let laneCount: Int
    /// Seconds a heartbeat counts a process as live.
    private let lease: Double
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

    init(connector: PostgresConnector, writer: PostgresSpoolWriter, laneCount: Int, lease: Double) {
        self.connector = connector
        self.writer = writer
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

    /// Beats the heartbeat, then takes or gives back lanes toward the fair share, never giving up
    /// one in `busy`; the lanes held afterwards. A lost connection is opened again (its locks were
    /// lost with it: the lanes are taken afresh).
    func balance(busy: Set<Int>) throws(SpoolError) -> Set<Int> {
        let (connection, held, closed) = state.withLock { ($0.connection, $0.held, $0.closed) }
        if closed { return [] }
        let result = try AsyncBridge.wait { [self] () async throws(SpoolError) -> (PostgresConnection, Set<Int>) in
            try await balanceAsync(busy: busy, connection: connection, held: held)
        }
        state.withLock { state in
            state.connection = result.0
            state.held = result.1
        }
        return result.1
    }

    private func balanceAsync(
        busy: Set<Int>, connection: PostgresConnection?, held: Set<Int>
    ) async throws(SpoolError) -> (PostgresConnection, Set<Int>) {
        var held = held
        let open: PostgresConnection
        if let connection, !connection.isClosed {
            open = connection
        } else {
            open = try await connector.connect()
            held = []
            let writer = self.writer
            open.addListener(channel: PostgresSpoolSchema.channel) { _, _ in writer.poke() }
            // Commits made while no connection listened: look once.
            writer.poke()
        }
        let logger = connector.logger
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
                  AND EXISTS (SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = p.backend_pid)
                """, logger: logger
            ).collect()
            let live = Int(try rows[0].decode(Int64.self))
            let share = (laneCount + live - 1) / live
            if held.count > share {
                let release = Array(preference.reversed().filter { held.contains($0) && !busy.contains($0) })
                    .prefix(held.count - share).map(Int32.init)
                if !release.isEmpty {
                    try await open.query(
                        """
                        SELECT pg_advisory_unlock(\(PostgresSpoolSchema.lockClass), lane)
                        FROM unnest(\(Array(release))::int4[]) AS lane
                        """, logger: logger)
                    held.subtract(release.map(Int.init))
                }
            } else if held.count < share {
                let candidates = preference.filter { !held.contains($0) }.map(Int32.init)
                let taken = try await open.query(
                    """
                    SELECT encharge_spool.take_lanes(\(PostgresSpoolSchema.lockClass), \(candidates)::int4[],
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

    /// Pending events with id > `cursor` in `lanes`, in spool order, at most `limit`, plus the rest of
    /// the last request's events in those lanes when the limit cut it; on the session's connection
    /// (opened by `balance`).
    func pending(after cursor: Int64, lanes: Set<Int>, limit: Int) throws(SpoolError) -> [SpoolPendingEvent] {
        guard !lanes.isEmpty, limit > 0 else { return [] }
        guard let connection = state.withLock({ $0.connection }), !connection.isClosed else {
            throw SpoolError(
                kind: .storage,
                message:
                    "cannot read pending events: the delivery connection is closed; it reopens on the next lane balance",
                path: spool)
        }
        let logger = connector.logger
        let spool = self.spool
        let laneList = lanes.sorted().map { Int16($0) }
        return try AsyncBridge.wait { () async throws(SpoolError) -> [SpoolPendingEvent] in
            func read(_ query: PostgresQuery) async throws -> [SpoolPendingEvent] {
                try await connection.query(query, logger: logger).collect().map { row in
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

    /// Forgets the heartbeat and closes the connection: its lanes are free at once.
    func close() async {
        let connection = state.withLock { state -> PostgresConnection? in
            state.closed = true
            state.held = []
            defer { state.connection = nil }
            return state.connection
        }
        guard let connection, !connection.isClosed else { return }
        _ = try? await connection.query(
            "DELETE FROM encharge_spool.delivery_process WHERE id = \(processID)", logger: connector.logger)
        try? await connection.close()
    }
}
