import EnchargeKit
import EnchargeRules
import JSONKit
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// What `replay` hands to its watchdog, as `run` does with `AbandonedRunHandover`: after the
/// watchdog gave the rule's call up, the replaying thread never returns from that call, so the
/// watchdog thread may take these objects over.
struct AbandonedReplayHandover: @unchecked Sendable {
    // Invariant: touched by the watchdog thread only after `LuaCallClock.abandon` succeeded, when
    // the replaying thread can no longer touch them.
    let progress: ReplayProgress
    let engine: RuleEngine
    let writer: JSONLinesEventWriter?
    let delivery: DeliveryEngine?
    let deadLetters: DeadLetterWriter
    let configuration: ReplayJobConfiguration
    let start: Double
    let diagnostics: DiagnosticsPrinter

    /// Reports the entry whose call overran, writes it to the new dead-letter file, delivers or
    /// prints what earlier entries emitted, prints the summary and ends the process with exit code 1.
    func finish(runningSeconds: Double) -> Never {
        finish(message: engine.overrunMessage(runningSeconds: runningSeconds, job: "replay"))
    }

    /// The same with the message already made (with `--jobs`, by the worker whose call overran;
    /// then this runs on the thread that merges, once it reached the entry).
    func finish(message: String) -> Never {
        var summary = progress.summary
        if let (record, source) = progress.current {
            summary.failed += 1
            diagnostics.write(MappingRun.compilerStyle(message, source: source))
            do {
                try deadLetters.writeRecordFailure(record: record, error: message, traceback: nil, source: source)
            } catch {
                diagnostics.write("error: cannot write the dead-letter file: \(error)")
            }
        } else {
            diagnostics.write("\(configuration.inputPath): error: \(message)")
        }
        let unread = carryOverUnread(
            after: progress.entriesSeen, configuration: configuration, deadLetters: deadLetters,
            diagnostics: diagnostics)
        writer?.flush()
        let stats = delivery.map {
            drain($0, progress: ProgressLine(enabled: false, diagnostics: diagnostics), summary: summary)
        }
        summary.seconds = SystemClock.monotonicSeconds() - start
        let noun = (one: "entry", many: "entries")
        diagnostics.write(
            summaryLine(summary, stats: stats, interrupted: false, stopped: true, title: "replay ", noun: noun)
                + unreadSummary(unread, deadLetters: deadLetters))
        if let hint = deadLetterHint(deadLetters, dryRun: configuration.dryRun, rules: configuration.rule, again: true)
        {
            diagnostics.write(hint)
        }
        // exit() would run the C library's atexit work while the stuck thread still runs Lua.
        _exit(ExitStatus.someFailed.rawValue)
    }
}
