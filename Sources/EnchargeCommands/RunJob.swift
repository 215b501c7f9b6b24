import Crypto
import EnchargeKit
import EnchargeRules
import JSONKit
import RecordSources

#if canImport(Glibc)
import Glibc
#endif

/// Everything `encharge-lua run` needs, already parsed from flags and the environment.
package struct RunJobConfiguration: Sendable {
    package var rule: RuleOptions
    package var inputs: [InputSpec]
    package var dryRun: Bool
    /// Nil: failed records are only reported on stderr (a dry run without `--dead-letter`).
    package var deadLetterPath: String?
    package var failFast: Bool
    package var quiet: Bool
    /// Nil with `dryRun`.
    package var delivery: DeliveryConfiguration?
    /// Seconds in-flight requests may take to finish after an interrupt.
    package var drainTimeout: Double

    package init(
        rule: RuleOptions, inputs: [InputSpec], dryRun: Bool, deadLetterPath: String?, failFast: Bool,
        quiet: Bool, delivery: DeliveryConfiguration?, drainTimeout: Double
    ) {
        self.rule = rule
        self.inputs = inputs
        self.dryRun = dryRun
        self.deadLetterPath = deadLetterPath
        self.failFast = failFast
        self.quiet = quiet
        self.delivery = delivery
        self.drainTimeout = drainTimeout
    }
}

/// SHA-256 of the rules file, recorded in dead-letter entries so a replay can tell which rule
/// version failed.
package func sha256Hex(ofFile path: String) -> String? {
    guard let bytes = try? readFile(path) else { return nil }
    return SHA256.hash(data: bytes).map { String(format2: $0) }.joined()
}

extension String {
    init(format2 byte: UInt8) {
        let hex: [Character] = Array("0123456789abcdef")
        self = String([hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
    }
}

/// Where a job's events go: stdout for a dry run, else a delivery engine. Shared by `run` and
/// `replay`.
struct EventOutput {
    let sink: EventSink
    let delivery: DeliveryEngine?
    let writer: JSONLinesEventWriter?

    /// Nil (after saying why on stderr) when the delivery engine cannot start.
    init?(
        dryRun: Bool, delivery configuration: DeliveryConfiguration?, deadLetters: DeadLetterWriter,
        context: DeadLetterContext, commandContext: CommandContext
    ) {
        let diagnostics = commandContext.diagnostics
        if dryRun {
            let writer = JSONLinesEventWriter(writer: commandContext.stdout)
            (sink, delivery, self.writer) = (writer, nil, writer)
            return
        }
        guard let configuration else {
            diagnostics.write("error: no delivery configuration; use --dry-run to print events instead")
            return nil
        }
        do {
            let engine = try DeliveryEngine(configuration: configuration, deadLetters: deadLetters, context: context)
            (sink, delivery, writer) = (DeliverySink(engine: engine), engine, nil)
        } catch {
            diagnostics.write("error: \(error)")
            return nil
        }
    }
}

/// Hands events to the delivery engine.
final class DeliverySink: EventSink {
    let engine: DeliveryEngine
    init(engine: DeliveryEngine) { self.engine = engine }
    func emit(_ events: [Event], source: String) { engine.submit(events, source: source) }
}

/// Runs `encharge-lua run`: map every record, print (dry run) or deliver the events, record
/// failures, print the summary.
package func runJob(_ configuration: RunJobConfiguration, context: CommandContext) -> ExitStatus {
    let diagnostics = context.diagnostics
    let engine: RuleEngine
    do { engine = try RuleEngine(options: configuration.rule) } catch {
        diagnostics.write("error: \(error.description)")
        return .usage
    }
    guard engine.hasOnRecord else {
        diagnostics.write("error: \(configuration.rule.rulesPath) defines no on_record(record, ctx) function; `run` calls it once per input record")
        return .usage
    }
    // Every input is checked before the first record, so a mistyped path stops the run before
    // anything is sent rather than leaving half an import behind.
    let unreadable = configuration.inputs.compactMap { $0.unreadableMessage() }
    guard unreadable.isEmpty else {
        unreadable.forEach(diagnostics.write)
        return .usage
    }
    let deadLetterContext = DeadLetterContext(
        rulesSHA256: sha256Hex(ofFile: configuration.rule.rulesPath), dryRun: configuration.dryRun)
    let deadLetters = configuration.deadLetterPath.map { DeadLetterWriter(path: $0, context: deadLetterContext) }
        ?? .discarding(context: deadLetterContext)
    guard prepareDeadLetters(deadLetters, diagnostics: diagnostics) else { return .usage }
    defer { deadLetters.removeIfUnused() }
    let progress = ProgressLine(enabled: !configuration.quiet && context.stderrIsTerminal, diagnostics: diagnostics)
    let start = monotonicSeconds()

    guard let output = EventOutput(dryRun: configuration.dryRun, delivery: configuration.delivery, deadLetters: deadLetters, context: deadLetterContext,
        commandContext: context)
    else { return .usage }
    let (sink, delivery, writer) = (output.sink, output.delivery, output.writer)

    let watcher = InterruptWatcher(
        interrupts: context.interrupts, engine: delivery, drainTimeout: configuration.drainTimeout)
    defer { watcher.stop() }
    let run = MappingRun(engine: engine, sink: sink, deadLetters: deadLetters, diagnostics: diagnostics)
    run.failFast = configuration.failFast
    // A stopped engine (refused write key, redirect) would only dead-letter the rest of the input.
    run.shouldStop = { context.interrupts.requested || delivery?.stop != nil }
    run.onProgress = { summary, reader in progress.update(summary: summary, delivery: delivery?.stats(), reader: reader) }
    let handover = AbandonedRunHandover(
        run: run, engine: engine, writer: writer, delivery: delivery, progress: progress, deadLetters: deadLetters,
        configuration: configuration, diagnostics: diagnostics)
    let watchdog = RuleWatchdog(clock: engine.callClock, timeLimit: configuration.rule.limits.seconds) { seconds in
        handover.finish(runningSeconds: seconds)
    }
    var summary = run.run(inputs: configuration.inputs)
    watchdog.stop()
    writer?.flush()
    let stats = delivery.map { drain($0, progress: progress, summary: summary) }
    summary.seconds = monotonicSeconds() - start
    let stop = stats?.stop
    let interrupted = context.interrupts.requested || (summary.interrupted && stop == nil)
    progress.clear()
    for warning in engine.warningLines() { diagnostics.write(warning) }

    if !configuration.quiet || summary.failed > 0 || (stats?.deadLettered ?? 0) > 0 || interrupted
        || !summary.inputErrors.isEmpty || stop != nil
    {
        diagnostics.write(summaryLine(summary, stats: stats, interrupted: interrupted, stopped: stop != nil))
        if let hint = deadLetterHint(deadLetters, dryRun: configuration.dryRun, rules: configuration.rule) {
            diagnostics.write(hint)
        }
    }
    if let unread = summary.unreadInputMessage(), interrupted || stop != nil { diagnostics.write(unread) }
    if let stop, !interrupted {
        let source = configuration.delivery?.writeKeySource ?? "ENCHARGE_WRITE_KEY"
        diagnostics.write("error: \(stop.message(writeKeySource: source))")
    }
    if let stats, stats.deadLetterWriteFailures > 0 {
        diagnostics.write("error: \(stats.deadLetterWriteFailures) undeliverable event\(stats.deadLetterWriteFailures == 1 ? "" : "s") could not be written to \(deadLetters.path) (\(stats.lastDeadLetterError ?? "write failed")); check that the path is writable")
        return .someFailed
    }
    if interrupted { return .interrupted }
    if stop != nil { return .usage }
    if !summary.inputErrors.isEmpty { return .usage }
    if summary.failed > 0 || (stats?.deadLettered ?? 0) > 0 { return .someFailed }
    return .success
}

/// Opens (or checks the directory of) the dead-letter file before the first record, so an
/// unwritable path is a configuration error instead of a surprise at the first failure.
func prepareDeadLetters(_ deadLetters: DeadLetterWriter, diagnostics: DiagnosticsPrinter) -> Bool {
    do {
        try deadLetters.prepare()
        return true
    } catch {
        diagnostics.write(
            "error: cannot write the dead-letter file \(error.path): \(error.message); pass a writable --dead-letter PATH")
        return false
    }
}

/// The line after a run or replay that says where its dead letters went and what to do with them;
/// nil when nothing was kept (none written, or written to a non-file such as /dev/null). `rules` is
/// the rule a replay of record entries needs (nil: unknown, shown as `--rules RULES`). When the file
/// already held entries of earlier runs, the command names this run with `--run-id`, so pasting it
/// never sends an earlier run's entries again.
func deadLetterHint(_ deadLetters: DeadLetterWriter, dryRun: Bool, rules: RuleOptions?, again: Bool = false) -> String? {
    let count = deadLetters.count
    guard count > 0, deadLetters.keepsEntries else { return nil }
    let entries = "\(count) entr\(count == 1 ? "y" : "ies")"
    let path = shellQuoted(deadLetters.path)
    if dryRun {
        return "\(entries) written to \(path) by this dry run, marked dry_run: what a real run would fail, not for "
            + "replay; fix the cause, then run again without --dry-run"
    }
    var command = "encharge-lua replay \(path)"
    if deadLetters.holdsEarlierEntries { command += " --run-id " + shellQuoted(deadLetters.context.runID) }
    var flags = ""
    if deadLetters.recordCount > 0 {
        command += " --rules " + (rules.map { shellQuoted($0.rulesPath) } ?? "RULES")
        if let rules, !rules.settings.isEmpty { flags = " with the same --set and --settings flags" }
    }
    let written = again ? "failed again, written to" : "written to"
    return "\(entries) \(written) \(path); fix the cause and run `\(command)`\(flags)"
}

/// Quotes `text` for a POSIX shell when it holds anything but plain path characters; a leading `-`
/// gets `./` (for a relative path) so the command does not read it as a flag.
func shellQuoted(_ text: String) -> String {
    let plain = !text.isEmpty && text.unicodeScalars.allSatisfy { scalar in
        scalar.isASCII && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || "-_./:=@%+,".unicodeScalars.contains(scalar))
    }
    let path = text.hasPrefix("-") ? "./" + text : text
    guard !plain else { return path }
    return "'" + path.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}

/// Waits for the delivery engine to send what is queued, keeping the progress line fresh. An
/// interrupt reaches the engine through the `InterruptWatcher`: then no new request starts,
/// requests on the wire get up to `--drain-timeout`, and the rest is dead-lettered.
func drain(_ engine: DeliveryEngine, progress: ProgressLine, summary: MappingSummary) -> DeliveryStats {
    while true {
        let stats = engine.stats()
        if stats.queued == 0 && stats.inFlight == 0 { break }
        progress.update(summary: summary, delivery: stats, reader: nil)
        usleep(50_000)
    }
    return engine.finish(timeout: nil)
}

/// `done: 12 records: 10 with events, 1 skipped, 1 failed; 20 events; 20 delivered, ... in 0.52 s
/// (23 records/s)`. The outcomes add up to the count; rarer ones (records that emitted nothing,
/// refused dry-run entries) appear only when there are some.
func summaryLine(
    _ s: MappingSummary, stats: DeliveryStats?, interrupted: Bool, stopped: Bool = false, title: String = "",
    noun: (one: String, many: String) = ("record", "records")
) -> String {
    var line = title + (interrupted ? "interrupted: " : stopped ? "stopped: " : "done: ") + outcomeCounts(s, noun: noun)
    if !s.inputErrors.isEmpty {
        line += "; \(s.inputErrors.count) input\(s.inputErrors.count == 1 ? "" : "s") not read to the end"
    }
    if let stats {
        line += "; \(stats.delivered) delivered, \(stats.retries) retried, \(stats.deadLettered) dead-lettered"
        line += ", latency p50 \(milliseconds(stats.p50Latency)) p99 \(milliseconds(stats.p99Latency))"
    }
    line += " in \(formatSeconds(s.seconds)) (\(Int(s.recordsPerSecond.rounded())) \(noun.many)/s)"
    return line
}

/// `12 records: 10 with events, 1 skipped, 1 failed; 20 events`: the part of a summary line
/// shared by `run`, `replay` and `check --input`.
func outcomeCounts(_ s: MappingSummary, noun: (one: String, many: String) = ("record", "records")) -> String {
    var outcomes = ["\(s.mapped) with events"]
    if s.withoutEvents > 0 { outcomes.append("\(s.withoutEvents) with none") }
    outcomes.append("\(s.skipped) skipped")
    outcomes.append("\(s.failed) failed")
    if s.refused > 0 { outcomes.append("\(s.refused) refused (dry run)") }
    return "\(s.records) \(s.records == 1 ? noun.one : noun.many): " + outcomes.joined(separator: ", ")
        + "; \(s.events) event\(s.events == 1 ? "" : "s")"
}

func milliseconds(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded())) ms" }

/// The live line on a terminal: records read, events sent, in flight, retries, failures,
/// events/s and, for files, percent and ETA.
final class ProgressLine {
    let enabled: Bool
    let diagnostics: DiagnosticsPrinter
    var lastDraw = 0.0
    let start = monotonicSeconds()
    var drawn = false

    init(enabled: Bool, diagnostics: DiagnosticsPrinter) {
        self.enabled = enabled
        self.diagnostics = diagnostics
    }

    func update(summary: MappingSummary, delivery: DeliveryStats?, reader: RecordReader?) {
        guard enabled else { return }
        let now = monotonicSeconds()
        guard now - lastDraw >= 0.2 else { return }
        lastDraw = now
        var line = "\(summary.records) records"
        if let d = delivery {
            line += ", \(d.delivered) sent, \(d.inFlight) in flight, \(d.retries) retries, \(summary.failed + d.deadLettered) failed, \(Int(d.eventsPerSecond)) events/s"
        } else {
            line += ", \(summary.events) events, \(summary.failed) failed, \(Int(Double(summary.records) / max(now - start, 0.001))) records/s"
        }
        if let (read, total) = reader?.progress, let total, total > 0 {
            let fraction = min(1, Double(read) / Double(total))
            line += ", \(Int(fraction * 100))%"
            if fraction > 0.01 {
                let eta = (now - start) * (1 - fraction) / fraction
                line += ", ETA \(Int(eta.rounded())) s"
            }
        }
        diagnostics.writeRaw("\r\u{1B}[K" + line)
        drawn = true
    }

    func clear() {
        if drawn { diagnostics.writeRaw("\r\u{1B}[K") }
    }
}
