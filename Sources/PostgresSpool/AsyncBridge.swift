import EnchargeSpool
import SystemKit

/// Blocking calls into PostgresNIO's async API, for the delivery worker's own thread: the work runs
/// as a task (which only awaits the event loop) while the calling thread sleeps on a condition. Never
/// called from Swift's cooperative pool, whose threads must not block.
enum AsyncBridge {
    /// Runs `operation` as a task and waits at most `timeout` seconds for its result or its error.
    /// When the time is up, `abandon` runs (it closes the connection `operation` waits on, so the
    /// operation fails soon) and the caller hears `timedOut` at once: a hung connection (a frozen
    /// server, a dead network path) never holds the calling thread.
    static func wait<T: Sendable>(
        timeout: Double, timedOut: SpoolError, abandon: @escaping @Sendable () async -> Void,
        _ operation: @escaping @Sendable () async throws(SpoolError) -> T
    ) throws(SpoolError) -> T {
        let done = ConditionLock<Result<T, SpoolError>?>(nil)
        Task {
            let result: Result<T, SpoolError>
            do throws(SpoolError) {
                result = .success(try await operation())
            } catch {
                result = .failure(error)
            }
            done.withLock { $0 = result }
            done.broadcast()
        }
        guard let result = done.withLock(whenReady: { $0 != nil }, timeout: timeout, { $0 }) else {
            Task { await abandon() }
            throw timedOut
        }
        return try result.get()
    }
}
