#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a pthread mutex with a condition variable, for threads that must sleep until
/// another thread changes the state (the delivery engine's callers waiting for room, the spool's
/// writer waiting for work, the spool's delivery worker waiting for new commits, the rule pool's
/// idle workers). `Mutex` from Synchronization has no condition variable.
package final class ConditionLock<State>: @unchecked Sendable {
    // Invariant: `state` is read and written only between pthread_mutex_lock/unlock on `mutex`;
    // `mutex` and `condition` are allocated in init and destroyed in deinit, when no thread can hold them.
    private var state: State
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    package init(_ initial: State) {
        state = initial
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        // Timed waits measure CLOCK_MONOTONIC, so a change of the wall clock cannot stretch them.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        precondition(pthread_cond_init(condition, &attributes) == 0, "pthread_cond_init failed")
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the state.
    package func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Waits (releasing the lock meanwhile) until `ready` holds or `timeout` seconds pass, then runs
    /// `body` under the lock whichever came first.
    package func withLock<R>(
        whenReady ready: (State) -> Bool, timeout: Double? = nil, _ body: (inout State) throws -> R
    ) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let timeout {
            var deadline = timespec()
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let whole = max(0, timeout).rounded(.down)
            deadline.tv_sec += Int(whole)
            deadline.tv_nsec += Int((max(0, timeout) - whole) * 1e9)
            if deadline.tv_nsec >= 1_000_000_000 {
                deadline.tv_sec += 1
                deadline.tv_nsec -= 1_000_000_000
            }
            while !ready(state) {
                if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
            }
        } else {
            while !ready(state) { pthread_cond_wait(condition, mutex) }
        }
        return try body(&state)
    }

    /// Wakes one thread waiting in `withLock(whenReady:)` so it re-checks its condition; enough when
    /// any one waiter can take the change (one job queued for a pool of idle workers).
    package func signal() {
        pthread_cond_signal(condition)
    }

    /// Wakes every thread waiting in `withLock(whenReady:)` so it re-checks its condition.
    package func broadcast() {
        pthread_cond_broadcast(condition)
    }
}
