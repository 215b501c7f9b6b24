import Logging
import PostgresNIO

/// `BEGIN` … `COMMIT` on one connection, rolled back when the body throws, with the body's own
/// error passed on as it is (PostgresNIO's `withTransaction` wraps it).
enum PostgresTransaction {
    /// Runs `body` in a transaction on `connection` and commits; rolls back and rethrows when it throws.
    static func run<Result: Sendable>(
        on connection: PostgresConnection, logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await connection.query("BEGIN", logger: logger)
        let result: Result
        do {
            result = try await body(connection)
        } catch {
            // A failed rollback leaves the connection broken; the next use reports that.
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
        try await connection.query("COMMIT", logger: logger)
        return result
    }
}
