import LuaKit
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// Watches one rule engine from a thread of its own. The count hook stops Lua code at the time
/// limit, so a call still running at `factor` times the limit is stuck in one C call (a standard
/// library function such as `table.move({}, 1, 1e12, 2)`) that nothing inside Lua can interrupt.
/// The watchdog then gives the call up (the thread running it parks when the call returns and
/// never touches the engine again) and calls `onOverrun` with the seconds the call had run, on the
/// watchdog thread, which then ends.
///
/// `serve` can run one per worker state to answer the request 500 and replace the worker.
package final class RuleWatchdog: Sendable {
    /// Calls running longer than this many time limits are given up.
    package static let factor = 2.0

    private let stopRequested = ConditionLock(false)
    private let thread: JoinableThread?

    /// Starts watching; nil `thread` (the system refused one) leaves the run unwatched, as before.
    package init(clock: LuaCallClock, timeLimit: Double, onOverrun: @escaping @Sendable (Double) -> Void) {
        let stop = stopRequested
        let limitNanoseconds = Int64(min(timeLimit * Self.factor * 1e9, Double(Int64.max / 2)))
        // Polling a tenth of the limit notices an overrun at most 5% late.
        let interval = min(max(timeLimit * Self.factor / 20, 0.005), 0.25)
        thread = JoinableThread.start {
            while !stop.withLock(whenReady: { $0 }, timeout: interval, { $0 }) {
                guard let started = clock.runningSince else { continue }
                let running = LuaCallClock.now() - started
                guard running > limitNanoseconds, clock.abandon(startedAt: started) else { continue }
                onOverrun(Double(running) / 1e9)
                return
            }
        }
    }

    /// Stops watching and waits for the thread (unless it already gave a call up).
    package func stop() {
        stopRequested.withLock { $0 = true }
        stopRequested.broadcast()
        thread?.join()
    }
}
