import EnchargeRules

#if canImport(Glibc)
import Glibc
#endif

/// What `diff` hands to its watchdogs (each rule's, and its fixture runners'), as `run` does with
/// `AbandonedRunHandover`: after a watchdog gave a rule call up, the diffing thread never returns
/// from that call, so the watchdog thread may take the report over.
struct AbandonedDiffHandover: @unchecked Sendable {
    // Invariant: touched by a watchdog thread only after `LuaCallClock.abandon` succeeded, when
    // the diffing thread can no longer touch them.
    let report: DiffJobReport
    /// The old and the new rule's engines, which map the records.
    let engines: [RuleEngine]
    let diagnostics: DiagnosticsPrinter

    /// Reports the record whose call on `engines[rule]` overran, with the rule line.
    func finish(rule: Int, runningSeconds: Double) -> Never {
        finish(
            message: engines[rule].overrunMessage(runningSeconds: runningSeconds, job: "diff"),
            source: report.currentSource ?? "input")
    }

    /// Reports the input `source` whose rule call is stuck (`message` names the rule line), writes
    /// the counts so far and ends the process with exit code 2: the stuck call cannot be stopped
    /// and the diff cannot go on.
    func finish(message: String, source: String) -> Never {
        diagnostics.write(MappingRun.compilerStyle(message, source: source))
        report.finish(.stopped)
        // exit() would run the C library's atexit work while the stuck thread still runs Lua.
        _exit(ExitStatus.usage.rawValue)
    }
}
