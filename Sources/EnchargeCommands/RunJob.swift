import EnchargeKit
import EnchargeRules
import LuaKit
import RecordSources
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// Runs `encharge-lua run`: map every record, print (dry run) or deliver the events, record
/// failures, print the summary.
package func runJob(_ configuration: RunJobConfiguration, context: CommandContext) -> ExitStatus {
    let diagnostics = context.diagnostics
    let engine: RuleEngine
    do { engine = try RuleEngine(options: configuration.rule.logging(to: context.stderr)) } catch {
        diagnostics.write("error: \(error.description)")
        return .usage
    }
    guard engine.hasOnRecord else {
        diagnostics.write(
            "error: \(RuleEngine.noOnRecordMessage(rulesPath: configuration.rule.rulesPath)); `run` calls it once per input record"
        )
        return .usage
    }
    // --trace blocks are written as each call returns, so they need the calls in input order.
    let jobs = configuration.rule.trace ? 1 : configuration.jobs
    var workers: MappingWorkers? = nil
    if jobs > 1 {
        workers = MappingWorkers(count: jobs, options: configuration.rule, job: "run", diagnostics: diagnostics)
        if workers == nil { return .usage }
    }
    defer { workers?.finish() }
    // Every input is checked before the first record, so a mistyped path stops the run before
    // anything is sent rather than leaving half an import behind.
    let unreadable = configuration.inputs.compactMap { $0.unreadableMessage() }
    guard unreadable.isEmpty else {
        unreadable.forEach(diagnostics.write)
        return .usage
    }
    let deadLetterContext = DeadLetterContext(
        rulesSHA256: configuration.rule.rulesFileSHA256, dryRun: configuration.dryRun)
    let deadLetters =
        configuration.deadLetterPath.map { DeadLetterWriter(path: $0, context: deadLetterContext) }
        ?? .discarding(context: deadLetterContext)
    guard prepareDeadLetters(deadLetters, diagnostics: diagnostics) else { return .usage }
    defer { deadLetters.removeIfUnused() }
    // A progress line redrawn between --trace blocks would garble them.
    let progress = ProgressLine(
        enabled: !configuration.quiet && !configuration.rule.trace && context.stderrIsTerminal,
        diagnostics: diagnostics)
    let start = SystemClock.monotonicSeconds()

    guard
        let output = EventOutput(
            dryRun: configuration.dryRun, delivery: configuration.delivery, spool: configuration.spool,
            deadLetters: deadLetters, context: deadLetterContext, commandContext: context,
            drainTimeout: configuration.drainTimeout)
    else { return .usage }
    let (sink, delivery, writer, watcher) = (output.sink, output.delivery, output.writer, output.watcher)
    defer { watcher.stop() }
    let run = MappingRun(engine: engine, sink: sink, deadLetters: deadLetters, diagnostics: diagnostics)
    run.failFast = configuration.failFast
    // A stopped engine (refused write key, redirect) would only dead-letter the rest of the input.
    // So would a spool that stopped committing.
    let spooling = output.spooling
    run.shouldStop = { context.interrupts.requested || delivery?.stop != nil || spooling?.failure != nil }
    run.onProgress = { summary, reader in progress.update(summary: summary, delivery: delivery?.stats(), reader: reader)
    }
    let handover = AbandonedRunHandover(
        run: run, engine: engine, writer: writer, delivery: delivery, progress: progress, deadLetters: deadLetters,
        configuration: configuration, diagnostics: diagnostics)
    // With --jobs each worker watches its own engine, and the run ends where merging reaches the call given up.
    run.onAbandonedRecord = { handover.finish(message: $0) }
    let watchdog =
        workers == nil
        ? RuleWatchdog(clock: engine.callClock, timeLimit: configuration.rule.limits.seconds) { seconds in
            handover.finish(runningSeconds: seconds)
        } : nil
    var summary = run.run(inputs: configuration.inputs, workers: workers)
    watchdog?.stop()
    workers?.finish()
    writer?.flush()
    let stats = delivery.map { drain($0, progress: progress, summary: summary) }
    let spooled = spooling?.finish()
    summary.seconds = SystemClock.monotonicSeconds() - start
    let stop = stats?.stop
    let interrupted = context.interrupts.requested || (summary.interrupted && stop == nil)
    progress.clear()
    for warning in run.warningLines() { diagnostics.write(warning) }

    let spoolFailure = spooled?.failure
    if !configuration.quiet || summary.failed > 0 || (stats?.deadLettered ?? 0) > 0 || interrupted
        || !summary.inputErrors.isEmpty || stop != nil || spoolFailure != nil
    {
        diagnostics.write(
            summaryLine(
                summary, stats: stats, spooled: spooled, interrupted: interrupted,
                stopped: stop != nil || spoolFailure != nil))
        if let hint = deadLetterHint(deadLetters, dryRun: configuration.dryRun, rules: configuration.rule) {
            diagnostics.write(hint)
        }
    }
    if let unread = summary.unreadInputMessage(), interrupted || stop != nil || spoolFailure != nil {
        diagnostics.write(unread)
    }
    if let spoolFailure {
        diagnostics.write(
            "error: \(spoolFailure); once it is fixed, run the same command again: records already spooled are not spooled twice"
        )
        return .usage
    }
    if let stop, !interrupted {
        let source = configuration.delivery?.writeKeySource ?? "ENCHARGE_WRITE_KEY"
        diagnostics.write("error: \(stop.message(writeKeySource: source))")
    }
    if let stats, stats.deadLetterWriteFailures > 0 {
        diagnostics.write(
            "error: \(stats.deadLetterWriteFailures) undeliverable event\(stats.deadLetterWriteFailures == 1 ? "" : "s") could not be written to \(deadLetters.path) (\(stats.lastDeadLetterError ?? "write failed")); check that the path is writable"
        )
        return .someFailed
    }
    if interrupted { return .interrupted }
    if stop != nil { return .usage }
    if !summary.inputErrors.isEmpty { return .usage }
    if summary.failed > 0 || (stats?.deadLettered ?? 0) > 0 { return .someFailed }
    return .success
}
