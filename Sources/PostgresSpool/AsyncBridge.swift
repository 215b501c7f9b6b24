import EnchargeSpool
import SystemKit

/// Bounded waits on PostgresNIO's async API. `wait` blocks, for the delivery worker's own thread: the
/// work runs as a task (which only awaits the event loop) while the calling thread sleeps on a
/// condition; it is never called from Swift's cooperative pool, whose threads must not block.
/// `within` awaits, for a request that must be answered promptly.
enum AsyncBridge {
    /// The result of `operation`, or `timedOut` once `timeout` seconds passed first; the operation's
    /// task is then cancelled (a wait for a pool connection ends with it) and left to end alone, so
    /// an unreachable server never holds the caller longer than `timeout`.
    static func within<T: Sendable>(
        _ timeout: Double, timedOut: SpoolError, _ operation: @escaping @Sendable () async throws(SpoolError) -> T
    ) async throws(SpoolError) -> T {
        let waiting = ConditionLock<CheckedContinuation<Result<T, SpoolError>, Never>?>(nil)
        let result = await withCheckedContinuation { continuation in
            waiting.withLock { $0 = continuation }
            let work = Task { () -> Result<T, SpoolError> in
                do throws(SpoolError) {
                    return .success(try await operation())
                } catch {
                    return .failure(error)
                }
            }
            let timer = Task {
                try? await Task.sleep(for: .seconds(timeout))
                guard !Task.isCancelled, let continuation = waiting.withLock({ $0.take() }) else { return }
                work.cancel()
                continuation.resume(returning: .failure(timedOut))
            }
            Task {
                let result = await work.value
                // Taken before the timer is cancelled: a cancelled timer wakes at once.
                waiting.withLock { $0.take() }?.resume(returning: result)
                timer.cancel()
            }
        }
        return try result.get()
    }

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
