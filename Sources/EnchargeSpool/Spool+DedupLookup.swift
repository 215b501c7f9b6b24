import GRDB

extension Spool {
    /// Whether `dedupKey` was accepted within its window: the server answers such a request 200
    /// without running the rule again. (A race between two copies of one delivery is still caught
    /// by `accept`, which checks again inside its transaction.)
    public func hasSeen(dedupKey: String, window: Double) throws(SpoolError) -> Bool {
        let now = store.clock()
        do {
            return try store.pool.read { db in
                let expires = try Double.fetchOne(
                    db, sql: "SELECT expires_at FROM dedup WHERE key = ?", arguments: [dedupKey])
                return (expires ?? 0) > now
            }
        } catch {
            throw SpoolError(kind: .storage, message: "cannot read the dedup table: \(error)", path: path)
        }
    }

    /// `hasSeen` as an asynchronous read on GRDB's reader threads, so the cooperative pool never
    /// waits on SQLite.
    public func hasSeenAsync(dedupKey: String, window: Double) async throws(SpoolError) -> Bool {
        let now = store.clock()
        do {
            return try await store.pool.read { db in
                let expires = try Double.fetchOne(
                    db, sql: "SELECT expires_at FROM dedup WHERE key = ?", arguments: [dedupKey])
                return (expires ?? 0) > now
            }
        } catch {
            throw SpoolError(kind: .storage, message: "cannot read the dedup table: \(error)", path: path)
        }
    }
}
