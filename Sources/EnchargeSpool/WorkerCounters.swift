import EnchargeKit
import SystemKit

/// What the worker's thread, the engine's settle hook, `stop` and `stats` share.
final class WorkerCounters: Sendable {
    struct Values {
        var dead = 0
        var stopping = false
        var lastError: String?
        /// Why the last read or balance of the spool failed; cleared by the next one that succeeds.
        var readFailure: String?
        /// The engine events go to now; replaced after it stopped on its own.
        var engine: DeliveryEngine?
        /// Delivered events and retries of the engines replaced so far.
        var retired = DeliveryStats()
        /// Events handed to the engine, and how many of them it settled since.
        var submitted = 0
        var settled = 0
        /// Events the engine handed back unsent because it stopped on its own (or a single 401/403),
        /// left pending, that the worker's cursor already passed.
        var keptBehindCursor = 0
        /// Events left pending because the stop's timeout ran out.
        var interrupted = 0
        /// Set while delivery is paused on a refused key.
        var pausedStatus: Int?
        /// The events on the engine and not settled yet: id → lane (its lanes are busy).
        var inFlight: [Int64: Int] = [:]
        /// The lanes the last `balanceLanes` left this process.
        var heldLanes: Set<Int> = []
    }

    private let values = ConditionLock(Values())

    func withLock<R>(_ body: (inout Values) -> R) -> R { values.withLock { body(&$0) } }

    /// Counts the settled event tagged `id` (after `change`) and wakes a worker waiting for the
    /// engine to idle.
    func settled(_ id: Int64, _ change: (inout Values) -> Void) {
        values.withLock { values in
            change(&values)
            values.settled += 1
            values.inFlight[id] = nil
        }
        values.broadcast()
    }

    /// Waits until `ready` holds or `timeout` seconds pass.
    func wait(until ready: (Values) -> Bool, timeout: Double? = nil) {
        values.withLock(whenReady: ready, timeout: timeout) { _ in }
    }

    func broadcast() { values.broadcast() }
}
