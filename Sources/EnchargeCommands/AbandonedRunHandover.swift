import EnchargeKit
import EnchargeRules

#if canImport(Glibc)
import Glibc
#endif

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
    let diagnostics: DiagnosticsPrinter

    /// Reports the record whose call overran, dead-letters it, delivers or prints what earlier
    /// records emitted, prints the summary and ends the process with exit code 1: the stuck call
    /// cannot be stopped, so the process is the only thing left to end.
    func finish(runningSeconds: Double) -> Never {
        finish(message: engine.overrunMessage(runningSeconds: runningSeconds, job: "run"))
    }

    /// The same with the message already made (with `--jobs`, by the worker whose call overran;
    /// then this runs on the thread that merges, once it reached the record).
    func finish(message: String) -> Never {
        let summary = run.abandonCurrentRecord(message: message)
        writer?.flush()
        let stats = delivery.map { drain($0, progress: progress, summary: summary) }
        progress.clear()
        diagnostics.write(summaryLine(summary, stats: stats, interrupted: false, stopped: true))
        if let hint = deadLetterHint(deadLetters, dryRun: configuration.dryRun, rules: configuration.rule) {
            diagnostics.write(hint)
        }
        // exit() would run the C library's atexit work while the stuck thread still runs Lua.
        _exit(ExitStatus.someFailed.rawValue)
    }
}
