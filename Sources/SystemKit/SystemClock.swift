#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The two clocks the package reads: a monotonic one for durations (timeouts, backoff, latency,
/// summaries) and the wall clock for instants that are stored or compared across processes.
package enum SystemClock {
    /// Seconds on a clock that never jumps (CLOCK_MONOTONIC), from an arbitrary origin.
    package static func monotonicSeconds() -> Double {
        let now = read(CLOCK_MONOTONIC)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Nanoseconds on the same clock as `monotonicSeconds()`, for differences that must not round.
    package static func monotonicNanoseconds() -> UInt64 {
        let now = read(CLOCK_MONOTONIC)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Seconds since the Unix epoch (CLOCK_REALTIME), for timestamps such as `accepted_at`, dedup
    /// expiry and signature tolerance; it can jump when the system clock is set.
    package static func wallSeconds() -> Double {
        let now = read(CLOCK_REALTIME)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Blocks the calling thread (never a thread of Swift's cooperative pool) for `seconds` on the
    /// monotonic clock, resuming after a signal until the whole time has passed.
    package static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        let end = monotonicNanoseconds() + UInt64(seconds * 1e9)
        while true {
            let now = monotonicNanoseconds()
            guard now < end else { return }
            let left = end - now
            var request = timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000))
            _ = nanosleep(&request, nil)
        }
    }

    private static func read(_ clock: clockid_t) -> timespec {
        var now = timespec()
        clock_gettime(clock, &now)
        return now
    }
}
