import EnchargeRules

#if canImport(Glibc)
import Glibc
#endif

/// What `diff` hands to each rule's watchdog, as `run` does with `AbandonedRunHandover`: after the
/// watchdog gave a rule call up, the diffing thread never returns from that call, so the watchdog
/// thread may take the report over.
struct AbandonedDiffHandover: @unchecked Sendable {
    // Invariant: touched by the watchdog thread only after `LuaCallClock.abandon` succeeded, when
    // the diffing thread can no longer touch them.
    let report: DiffJobReport
    /// The engine whose call the watchdog watches.
    let engine: RuleEngine
    let diagnostics: DiagnosticsPrinter

    /// Reports the input whose call overran with the rule line, writes the counts so far and ends
    /// the process with exit code 2: the stuck call cannot be stopped and the diff cannot go on.
    func finish(runningSeconds: Double) -> Never {
        let message = engine.overrunMessage(runningSeconds: runningSeconds, job: "diff")
        diagnostics.write(MappingRun.compilerStyle(message, source: report.currentSource ?? "input"))
        report.finish(.stopped)
        // exit() would run the C library's atexit work while the stuck thread still runs Lua.
        _exit(ExitStatus.usage.rawValue)
    }
}
