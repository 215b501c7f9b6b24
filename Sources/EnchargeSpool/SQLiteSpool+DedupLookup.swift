import GRDB

extension SQLiteSpool {
    /// Whether `dedupKey` was accepted and its window, set when it was accepted, has not ended: the
    /// server answers such a request 200 without running the rule again. (A race between two copies
    /// of one delivery is still decided by `accept`, by the dedup table's primary key.) Reads on
    /// GRDB's reader threads, so the cooperative pool never waits on SQLite.
    package func hasSeen(dedupKey: String) async throws(SpoolError) -> Bool {
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
