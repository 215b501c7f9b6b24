import EnchargeSpool
import SystemKit

/// Blocking calls into PostgresNIO's async API, for the delivery worker's own thread: the work runs
/// as a task (which only awaits the event loop) while the calling thread sleeps on a condition. Never
/// called from Swift's cooperative pool, whose threads must not block.
enum AsyncBridge {
    /// Runs `operation` as a task and waits until it finished; its result or its error.
    static func wait<T: Sendable>(
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
        let result = done.withLock(whenReady: { $0 != nil }) { $0! }
        return try result.get()
    }
}
