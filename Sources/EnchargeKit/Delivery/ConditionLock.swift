#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a pthread mutex with a condition variable, for the few places that must block
/// a thread until another one changes the state (`submit` backpressure, `finish`). `Mutex` from
/// Synchronization has no condition variable, and pairing one with a separate lock loses wakeups.
final class ConditionLock<State>: @unchecked Sendable {
    // Invariant: `state` is read and written only between pthread_mutex_lock/unlock on `mutex`;
    // `mutex` and `condition` are allocated in init and destroyed in deinit, when no thread can hold them.
    private var state: State
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init(_ initial: State) {
        state = initial
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        precondition(pthread_cond_init(condition, nil) == 0, "pthread_cond_init failed")
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the state.
    func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Waits (releasing the lock meanwhile) until `ready` holds, then runs `body` under the lock.
    func withLock<R>(whenReady ready: (State) -> Bool, _ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(state) { pthread_cond_wait(condition, mutex) }
        return try body(&state)
    }

    /// Wakes every thread waiting in `withLock(whenReady:)` so it re-checks its condition.
    func broadcast() {
        pthread_cond_broadcast(condition)
    }
}
