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

    private static func read(_ clock: clockid_t) -> timespec {
        var now = timespec()
        clock_gettime(clock, &now)
        return now
    }
}
