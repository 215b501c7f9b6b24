import EnchargeRules

#if canImport(Glibc)
import Glibc
#endif

/// What `test` hands to the watchdog of each fixture's engine, as `check` does with
/// `AbandonedCheckHandover`: after the watchdog gave the rule's call up, the testing thread never
/// returns from that call, so the watchdog thread reports the fixture and ends the process.
struct AbandonedTestHandover: @unchecked Sendable {
    // Invariant: the engine is touched by the watchdog thread only after `LuaCallClock.abandon`
    // succeeded, when the testing thread can no longer touch it.
    let engine: RuleEngine
    /// The fixture whose call was stuck.
    let file: String
    /// The command the message says stops (`test`, `diff`).
    let job: String
    /// Prints the fixture's failure.
    let report: @Sendable (_ file: String, _ message: String) -> Void

    /// Reports the fixture with the rule line of the stuck call and ends the process with exit code 1.
    func finish(runningSeconds: Double) -> Never {
        report(file, engine.overrunMessage(runningSeconds: runningSeconds, job: job))
        // exit() would run the C library's atexit work while the stuck thread still runs Lua.
        _exit(ExitStatus.someFailed.rawValue)
    }
}
