import EnchargeRules

#if canImport(Glibc)
import Glibc
#endif

/// What `check --input` hands to its watchdog, as `run` does with `AbandonedRunHandover`: after
/// the watchdog gave the rule's call up, the checking thread never returns from that call, so the
/// watchdog thread may take these objects over.
struct AbandonedCheckHandover: @unchecked Sendable {
    // Invariant: touched by the watchdog thread only after `LuaCallClock.abandon` succeeded, when
    // the checking thread can no longer touch them.
    let run: MappingRun
    let engine: RuleEngine
    let writer: JSONLinesEventWriter
    /// Errors already reported from the rule's source.
    let problems: Int
    let diagnostics: DiagnosticsPrinter

    /// Reports the sample record whose call overran with the rule line, prints what earlier records
    /// emitted and the sample summary, and ends the process with exit code 1.
    func finish(runningSeconds: Double) -> Never {
        let summary = run.abandonCurrentRecord(
            message: engine.overrunMessage(runningSeconds: runningSeconds, job: "check"))
        writer.flush()
        diagnostics.write("sample: " + outcomeCounts(summary))
        diagnostics.write(
            checkFailureLine(rulesPath: engine.options.rulesPath, problems: problems, failedSample: summary.failed))
        // exit() would run the C library's atexit work while the stuck thread still runs Lua.
        _exit(ExitStatus.someFailed.rawValue)
    }
}
