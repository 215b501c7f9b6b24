import EnchargeKit
import EnchargeRules
import JSONKit
import LuaKit
import SystemKit

/// Sends event entries again as they are and re-runs record entries through the fixed rule.
/// Everything that fails again is appended to the output dead-letter file under this replay's run id,
/// and so is every entry not read when the replay stops early (refused key, redirect, interrupt);
/// entries a dry run wrote are refused
/// (nothing was sent, so there is nothing to send again), and a line that is not an entry is
/// reported with its number and skipped. Returns the exit status (as `run`).
package func replayJob(_ configuration: ReplayJobConfiguration, context: CommandContext) -> ExitStatus {
    let diagnostics = context.diagnostics
    var engine: RuleEngine? = nil
    var rulesSHA256: String? = nil
    if let rule = configuration.rule {
        do { engine = try RuleEngine(options: rule.logging(to: context.stderr)) } catch {
            diagnostics.write("error: \(error.description)")
            return .usage
        }
        guard engine?.hasOnRecord == true else {
            diagnostics.write("error: \(RuleEngine.noOnRecordMessage(rulesPath: rule.rulesPath))")
            return .usage
        }
        rulesSHA256 = rule.rulesFileSHA256
    }
    let deadLetterContext = DeadLetterContext(rulesSHA256: rulesSHA256, dryRun: configuration.dryRun)
    let deadLetters =
        configuration.deadLetterPath.map { DeadLetterWriter(path: $0, context: deadLetterContext) }
        ?? .discarding(context: deadLetterContext)
    guard prepareDeadLetters(deadLetters, diagnostics: diagnostics) else { return .usage }
    defer { deadLetters.removeIfUnused() }
    // By device and inode, so `./x`, an absolute path or a link to the input is caught too.
    guard !deadLetters.isSameFile(as: configuration.inputPath) else {
        diagnostics.write(
            "error: --dead-letter \(deadLetters.path) is the file being replayed (\(configuration.inputPath)); "
                + "replay never appends to its input, so pass another path")
        return .usage
    }
    guard
        let output = EventOutput(
            dryRun: configuration.dryRun, delivery: configuration.delivery, deadLetters: deadLetters,
            context: deadLetterContext, commandContext: context, drainTimeout: configuration.drainTimeout)
    else { return .usage }
    let (sink, delivery, writer, watcher) = (output.sink, output.delivery, output.writer, output.watcher)
    defer { watcher.stop() }
    let start = SystemClock.monotonicSeconds()
    let progress = ReplayProgress()
    var workers: MappingWorkers? = nil
    if let rule = configuration.rule, configuration.jobs > 1 {
        workers = MappingWorkers(count: configuration.jobs, options: rule, job: "replay", diagnostics: diagnostics)
        if workers == nil { return .usage }
    }
    defer { workers?.finish() }
    let entries = ReplayEntries(
        configuration: configuration, progress: progress, engine: engine, sink: sink, deadLetters: deadLetters,
        diagnostics: diagnostics, shouldStop: { context.interrupts.requested || delivery?.stop != nil })
    let handover = engine.map { engine in
        AbandonedReplayHandover(
            progress: progress, engine: engine, writer: writer, delivery: delivery, deadLetters: deadLetters,
            configuration: configuration, start: start, diagnostics: diagnostics)
    }
    // With --jobs each worker watches its own engine, and the replay ends where merging reaches the call given up.
    entries.onAbandonedEntry = { handover!.finish(message: $0) }
    let watchdog = engine.flatMap { engine in
        workers == nil
            ? RuleWatchdog(clock: engine.callClock, timeLimit: engine.options.limits.seconds) { seconds in
                handover!.finish(runningSeconds: seconds)
            } : nil
    }
    defer { watchdog?.stop() }
    do {
        try entries.run(workers: workers)
    } catch {
        diagnostics.write("error: \(error); replay reads the JSON lines that run writes with --dead-letter")
        _ = delivery?.finish(timeout: 0)
        return .usage
    }
    workers?.finish()
    let (keptRecords, readBeforeStop, ofTheRuns) = (entries.keptRecords, entries.readBeforeStop, entries.ofTheRuns)
    var summary = progress.summary
    writer?.flush()
    for warning in entries.warningLines() { diagnostics.write(warning) }
    // An interrupt reached the engine through the watcher, with the drain timeout.
    let stats = delivery?.finish(timeout: nil)
    // Stopped: what was not read goes to the output file as it is, after the events dead-lettered
    // above (so per-person order holds), and replaying that file as the hint says sends everything.
    let unread =
        readBeforeStop.map {
            carryOverUnread(after: $0, configuration: configuration, deadLetters: deadLetters, diagnostics: diagnostics)
        } ?? 0
    let stop = stats?.stop
    let interrupted = context.interrupts.requested || (summary.interrupted && stop == nil)
    summary.seconds = SystemClock.monotonicSeconds() - start
    if !configuration.runIDs.isEmpty && ofTheRuns == 0 {
        let ids = configuration.runIDs.sorted().joined(separator: ", ")
        diagnostics.write(
            "warning: no entry of \(configuration.inputPath) was written by run \(Diagnostics.escaped(ids)); check the "
                + "--run-id against the \"run_id\" of its entries")
    }
    if keptRecords > 0 {
        diagnostics.write(
            "warning: \(keptRecords) record entr\(keptRecords == 1 ? "y needs" : "ies need") the fixed rule: pass --rules RULES to map them again; they were copied to \(deadLetters.path)"
        )
    }
    if summary.refused > 0 {
        let (entries, were) = summary.refused == 1 ? ("entry", "was") : ("entries", "were")
        diagnostics.write(
            "error: \(summary.refused) \(entries) of \(configuration.inputPath) came from a --dry-run and \(were) not "
                + "replayed, since a dry run sends nothing; run the input again without --dry-run to send it")
    }
    if !configuration.quiet || summary.failed > 0 || summary.refused > 0 || (stats?.deadLettered ?? 0) > 0
        || stop != nil
        || unread > 0
    {
        let noun = (one: "entry", many: "entries")
        var line = summaryLine(
            summary, stats: stats, interrupted: interrupted, stopped: stop != nil, title: "replay ", noun: noun)
        line += unreadSummary(unread, deadLetters: deadLetters)
        diagnostics.write(line)
        if let hint = deadLetterHint(deadLetters, dryRun: configuration.dryRun, rules: configuration.rule, again: true)
        {
            diagnostics.write(hint)
        }
    }
    if let stop, !interrupted {
        let source = configuration.delivery?.writeKeySource ?? "ENCHARGE_WRITE_KEY"
        diagnostics.write("error: \(stop.message(writeKeySource: source))")
    }
    if interrupted { return .interrupted }
    if stop != nil { return .usage }
    let unfinished = summary.failed > 0 || summary.refused > 0 || (stats?.deadLettered ?? 0) > 0 || unread > 0
    return unfinished ? .someFailed : .success
}

/// `; 211 more entries not read, carried over unread to dead.retry.jsonl`, or nothing: the end of
/// the summary line of a replay that stopped before reading all its input.
func unreadSummary(_ unread: Int, deadLetters: DeadLetterWriter) -> String {
    guard unread > 0 else { return "" }
    return "; \(unread) more entr\(unread == 1 ? "y" : "ies") not read, carried over unread to \(deadLetters.path)"
}

/// Copies the entries of `configuration.inputPath` after the first `seen` (those the replay did not
/// get to, within `--run-id`) to the output dead-letter file, once a replay stopped (refused key,
/// redirect, interrupt, watchdog). Returns how many were copied.
func carryOverUnread(
    after seen: Int, configuration: ReplayJobConfiguration, deadLetters: DeadLetterWriter,
    diagnostics: DiagnosticsPrinter
) -> Int {
    var index = 0
    var copied = 0
    do {
        try DeadLetterEntry.forEach(inFile: configuration.inputPath, invalidLine: { _ in }) { entry in
            index += 1
            guard index > seen else { return true }
            if !configuration.runIDs.isEmpty, !configuration.runIDs.contains(entry.runID ?? "") { return true }
            try deadLetters.writeUnread(entry)
            copied += 1
            return true
        }
    } catch {
        diagnostics.write("error: cannot carry the unread entries of \(configuration.inputPath) over: \(error)")
    }
    return copied
}
