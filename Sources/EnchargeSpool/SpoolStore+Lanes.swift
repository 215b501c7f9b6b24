import EnchargeKit
import Foundation
import GRDB

/// One event of an accepted request, as the writer stores it.
struct StoredEvent: Sendable {
    /// The wire body, exactly what is POSTed.
    var json: String
    /// `SpoolLanes.lane(ofIdentityKey: identityKey)`.
    var lane: Int
    var identityKey: String

    init(_ event: Event) {
        json = String(decoding: event.wireJSON(), as: UTF8.self)
        identityKey = event.identityKey
        lane = SpoolLanes.lane(ofIdentityKey: identityKey)
    }
}

extension SpoolStore {
    /// Up to `limit` pending events in `lanes` after `cursor`, in spool order, plus the rest of the
    /// last request's events in those lanes when the limit cut it, so a request is never split
    /// between two reads.
    func pendingEvents(after cursor: Int64, lanes: Set<Int>, limit: Int) throws(SpoolError) -> [SpoolPendingEvent] {
        guard !lanes.isEmpty, limit > 0 else { return [] }
        // Every lane (the usual case on SQLite) needs no filter; a subset is listed in the query.
        let laneFilter =
            lanes.count >= SpoolLanes.count
            ? "" : " AND event.lane IN (\(lanes.sorted().map(String.init).joined(separator: ",")))"
        let select = """
            SELECT event.id, event.request, request.request_id, request.source, event.lane, event.identity_key, event.json
            FROM event JOIN request ON request.id = event.request
            WHERE event.state = 'pending'\(laneFilter)
            """
        do {
            return try pool.read { db in
                var batch: [SpoolPendingEvent] = []
                batch.reserveCapacity(limit + 1)
                // Read straight off the statement: the wire bytes are copied once, out of SQLite's
                // buffer, and a request's id and source strings are shared by its events.
                func read(_ sql: String, _ arguments: StatementArguments) throws {
                    let statement =
                        laneFilter.isEmpty ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
                    let rows = try Row.fetchCursor(statement, arguments: arguments)
                    while let row = try rows.next() {
                        let request: Int64 = row[1]
                        let sameRequest = batch.last?.request == request
                        let wire = try row.withUnsafeData(atIndex: 6) { data in data.map { [UInt8]($0) } ?? [] }
                        batch.append(
                            SpoolPendingEvent(
                                id: row[0], request: request,
                                requestID: sameRequest ? batch[batch.count - 1].requestID : row[2],
                                source: sameRequest ? batch[batch.count - 1].source : row[3], lane: row[4],
                                identityKey: row[5], wire: wire))
                    }
                }
                try read("\(select) AND event.id > ? ORDER BY event.id LIMIT ?", [cursor, limit])
                if batch.count == limit, let last = batch.last {
                    try read(
                        "\(select) AND event.request = ? AND event.id > ? ORDER BY event.id", [last.request, last.id])
                }
                return batch
            }
        } catch {
            throw .wrapping(error, kind: .storage, path: path, doing: "cannot read pending events")
        }
    }
}
