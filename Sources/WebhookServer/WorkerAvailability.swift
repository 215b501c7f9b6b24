import Synchronization
import SystemKit

/// How long every rule worker has been busy without one coming free, for `/healthz`.
final class WorkerAvailability: Sendable {
    let size: Int
    /// Requests inside the pool (running or waiting), when they last reached `size`, and when a
    /// request last left it (seconds on the monotonic clock).
    private let state = Mutex((inside: 0, allBusySince: 0.0, lastFreed: 0.0))

    init(size: Int) {
        self.size = size
    }

    /// Runs `body` (a request on the pool), counted.
    func run<T>(_ body: () async -> T) async -> T {
        state.withLock { state in
            state.inside += 1
            if state.inside == size { state.allBusySince = SystemClock.monotonicSeconds() }
        }
        let result = await body()
        state.withLock { state in
            state.inside -= 1
            state.lastFreed = SystemClock.monotonicSeconds()
        }
        return result
    }

    /// Seconds since a worker was last free, or nil while one is free now.
    func stalledSeconds() -> Double? {
        state.withLock { state in
            guard state.inside >= size else { return nil }
            return SystemClock.monotonicSeconds() - max(state.allBusySince, state.lastFreed)
        }
    }
}
