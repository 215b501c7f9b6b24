import EnchargeKit
import LuaKit

#if canImport(Glibc)
import Glibc
#endif

extension RuleEngine {
    /// When the rule's running call started, for a `RuleWatchdog` on another thread.
    public var callClock: LuaCallClock { state.callClock }

    /// `file:line` of the rule line whose call a watchdog gave up. Only from the watchdog thread,
    /// after `LuaCallClock.abandon` succeeded (see `LuaState.stuckCallPosition`).
    public var stuckRulePosition: String? { state.stuckCallPosition() }
}

/// Watches one rule engine from a thread of its own. The count hook stops Lua code at the time
/// limit, so a call still running at `factor` times the limit is stuck in one C call (a standard
/// library function such as `table.move({}, 1, 1e12, 2)`) that nothing inside Lua can interrupt.
/// The watchdog then gives the call up (the thread running it parks when the call returns and
/// never touches the engine again) and calls `onOverrun` with the seconds the call had run, on the
/// watchdog thread, which then ends.
///
/// `serve` can run one per worker state to answer the request 500 and replace the worker.
public final class RuleWatchdog: Sendable {
    /// Calls running longer than this many time limits are given up.
    public static let factor = 2.0

    private let stopRequested = ConditionLock(false)
    private let thread: JoinableThread?

    /// Starts watching; nil `thread` (the system refused one) leaves the run unwatched, as before.
    public init(clock: LuaCallClock, timeLimit: Double, onOverrun: @escaping @Sendable (Double) -> Void) {
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
    public func stop() {
        stopRequested.withLock { $0 = true }
        stopRequested.broadcast()
        thread?.join()
    }
}

/// What `run` hands to its watchdog: everything the mapping thread was working with. After the
/// watchdog gave the rule's call up, the mapping thread never returns from that call (it is stuck
/// in C, and parks if the call ever ends), so the watchdog thread may take these objects over.
struct AbandonedRunHandover: @unchecked Sendable {
    // Invariant: touched by the watchdog thread only after `LuaCallClock.abandon` succeeded, when
    // the mapping thread can no longer touch them (see above).
    let run: MappingRun
    let engine: RuleEngine
    let writer: JSONLinesEventWriter?
    let delivery: DeliveryEngine?
    let progress: ProgressLine
    let deadLetters: DeadLetterWriter
    let configuration: RunJobConfiguration

    /// Reports the record whose call overran, dead-letters it, delivers or prints what earlier
    /// records emitted, prints the summary and ends the process with exit code 1: the stuck call
    /// cannot be stopped, so the process is the only thing left to end.
    func finish(runningSeconds: Double) -> Never {
        let limit = configuration.rule.limits.seconds
        let position = engine.stuckRulePosition ?? configuration.rule.rulesPath
        let message = "\(position): a call of the rule ran for \(formatSeconds(runningSeconds)), over \(Int(RuleWatchdog.factor))× the time limit of \(formatSeconds(limit)), inside a library function no limit can interrupt; the run stops here, so change the rule near this line"
        let summary = run.abandonCurrentRecord(message: message)
        writer?.flush()
        let stats = delivery.map { drain($0, progress: progress, summary: summary) }
        progress.clear()
        Diagnostics.write(summaryLine(summary, stats: stats, interrupted: false, stopped: true))
        if let hint = deadLetterHint(deadLetters, dryRun: configuration.dryRun, rules: configuration.rule) {
            Diagnostics.write(hint)
        }
        // exit() would run the C library's atexit work while the stuck thread still runs Lua.
        _exit(RunExitCode.someFailed)
    }
}
