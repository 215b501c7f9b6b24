import GRDB

extension Spool {
    /// Whether `dedupKey` was accepted and its window, set when it was accepted, has not ended: the
    /// server answers such a request 200 without running the rule again. (A race between two copies
    /// of one delivery is still caught by `accept`, which checks again inside its transaction.)
    package func hasSeen(dedupKey: String) throws(SpoolError) -> Bool {
        let now = store.clock()
        do {
            return try store.pool.read { db in try Self.isUnexpired(dedupKey, at: now, db) }
        } catch {
            throw dedupReadError(error)
        }
    }

    /// `hasSeen` as an asynchronous read on GRDB's reader threads, so the cooperative pool never
    /// waits on SQLite.
    package func hasSeenAsync(dedupKey: String) async throws(SpoolError) -> Bool {
        let now = store.clock()
        do {
            return try await store.pool.read { db in try Self.isUnexpired(dedupKey, at: now, db) }
        } catch {
            throw dedupReadError(error)
        }
    }

    private static func isUnexpired(_ dedupKey: String, at now: Double, _ db: Database) throws -> Bool {
        let expires = try Double.fetchOne(db, sql: "SELECT expires_at FROM dedup WHERE key = ?", arguments: [dedupKey])
        return (expires ?? 0) > now
    }

    private func dedupReadError(_ error: any Error) -> SpoolError {
        SpoolError(kind: .storage, message: "cannot read the dedup table: \(error)", path: path)
    }
}
