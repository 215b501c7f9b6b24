import Logging
import PostgresNIO

/// `BEGIN` … `COMMIT` on one connection, rolled back when the body throws. A failure before the
/// `COMMIT` was sent is `NotCommitted` (nothing of the transaction is stored, so it may be run
/// again); a failure of the `COMMIT` itself is thrown as it is (its outcome is unknown).
enum PostgresTransaction {
    /// The transaction failed before its `COMMIT` was sent: nothing of it was stored.
    struct NotCommitted: Error {
        let underlying: any Error
    }

    /// Runs `body` in a transaction on `connection` and commits; rolls back when it throws.
    static func run<Result: Sendable>(
        on connection: PostgresConnection, logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let result: Result
        do {
            try await connection.query("BEGIN", logger: logger)
            result = try await body(connection)
        } catch {
            // A failed rollback leaves the connection broken; the next use reports that.
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw NotCommitted(underlying: error)
        }
        try await connection.query("COMMIT", logger: logger)
        return result
    }
}
