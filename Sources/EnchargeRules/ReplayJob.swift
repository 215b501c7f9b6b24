import EnchargeKit
import JSONKit

/// What `encharge-lua replay` needs.
public struct ReplayJobConfiguration: Sendable {
    /// The dead-letter file to read; never written.
    public var inputPath: String
    /// The fixed rule for record entries; nil leaves record entries as they are.
    public var rule: RuleOptions?
    /// Where what fails again goes.
    public var deadLetterPath: String
    public var dryRun: Bool
    public var quiet: Bool
    public var delivery: DeliveryConfiguration?
    public var drainTimeout: Double

    public init(
        inputPath: String, rule: RuleOptions?, deadLetterPath: String, dryRun: Bool, quiet: Bool,
        delivery: DeliveryConfiguration?, drainTimeout: Double
    ) {
        self.inputPath = inputPath
        self.rule = rule
        self.deadLetterPath = deadLetterPath
        self.dryRun = dryRun
        self.quiet = quiet
        self.delivery = delivery
        self.drainTimeout = drainTimeout
    }

    /// `dead-letter.jsonl` → `dead-letter.retry.jsonl`.
    public static func defaultOutput(for input: String) -> String {
        let stem = input.hasSuffix(".jsonl") ? String(input.dropLast(6)) : input
        return stem + ".retry.jsonl"
    }
}

/// Sends event entries again as they are and re-runs record entries through the fixed rule.
/// Everything that fails again goes to a new dead-letter file. Returns the exit code (as `run`).
public func replayJob(_ configuration: ReplayJobConfiguration) -> Int32 {
    guard configuration.deadLetterPath != configuration.inputPath else {
        Diagnostics.write("error: --dead-letter must differ from the file being replayed; replay never edits its input")
        return RunExitCode.usage
    }
    var engine: RuleEngine? = nil
    var context = DeadLetterContext()
    if let rule = configuration.rule {
        do { engine = try RuleEngine(options: rule) } catch {
            Diagnostics.write("error: \(error.description)")
            return RunExitCode.usage
        }
        guard engine?.hasOnRecord == true else {
            Diagnostics.write("error: \(rule.rulesPath) defines no on_record(record, ctx) function")
            return RunExitCode.usage
        }
        context = DeadLetterContext(rulesSHA256: sha256Hex(ofFile: rule.rulesPath))
    }
    let deadLetters = DeadLetterWriter(path: configuration.deadLetterPath, context: context)
    guard let output = EventOutput(dryRun: configuration.dryRun, delivery: configuration.delivery, deadLetters: deadLetters, context: context)
    else { return RunExitCode.usage }
    let (sink, delivery, writer) = (output.sink, output.delivery, output.writer)
    installInterruptHandlers()
    let watcher = InterruptWatcher(engine: delivery, drainTimeout: configuration.drainTimeout)
    defer { watcher.stop() }
    let start = monotonicSeconds()
    var summary = MappingSummary()
    var keptRecords = 0
    do {
        try DeadLetterEntry.forEach(inFile: configuration.inputPath) { entry in
            if interruptRequested.load(ordering: .relaxed) || delivery?.stop != nil {
                summary.interrupted = true
                return false
            }
            summary.records += 1
            let source = entry.source ?? "\(configuration.inputPath):\(summary.records)"
            switch entry.kind {
            case .event:
                do {
                    let event = try Event(validating: entry.event ?? .null)
                    summary.events += 1
                    sink.emit([event], source: source)
                } catch {
                    summary.failed += 1
                    Diagnostics.write("\(source): error: the dead-lettered event is not valid: \(error)")
                    if let event = entry.event {
                        try? deadLetters.writeRecordFailure(record: event, error: "invalid event: \(error)", traceback: nil, source: source)
                    }
                }
            case .record:
                let record = entry.record ?? .null
                guard let engine else {
                    keptRecords += 1
                    summary.failed += 1
                    try? deadLetters.writeRecordFailure(record: record, error: entry.error ?? "not replayed", traceback: entry.traceback, source: source)
                    return true
                }
                var value = record
                if case .string(let text) = record, let parsed = try? JSONValue(parsing: text) { value = parsed }
                switch engine.map(value: value, source: source) {
                case .mapped(let events):
                    summary.events += events.count
                    if !events.isEmpty { sink.emit(events, source: source) }
                case .skipped:
                    summary.skipped += 1
                case .failed(let message, let traceback):
                    summary.failed += 1
                    Diagnostics.write(MappingRun.compilerStyle(message, source: source))
                    try? deadLetters.writeRecordFailure(record: record, error: message, traceback: traceback, source: source)
                }
            }
            return true
        }
    } catch {
        Diagnostics.write("error: \(error); replay reads the JSON lines that run writes with --dead-letter")
        _ = delivery?.finish(timeout: 0)
        return RunExitCode.usage
    }
    writer?.flush()
    // An interrupt reached the engine through the watcher, with the drain timeout.
    let stats = delivery?.finish(timeout: nil)
    let stop = stats?.stop
    let interrupted = interruptRequested.load(ordering: .relaxed) || (summary.interrupted && stop == nil)
    summary.seconds = monotonicSeconds() - start
    if keptRecords > 0 {
        Diagnostics.write("\(keptRecords) record entr\(keptRecords == 1 ? "y needs" : "ies need") the fixed rule: pass --rules RULES to map them again; they were copied to \(configuration.deadLetterPath)")
    }
    if !configuration.quiet || summary.failed > 0 || (stats?.deadLettered ?? 0) > 0 || stop != nil {
        Diagnostics.write(
            "replay " + summaryLine(summary, stats: stats, interrupted: interrupted || stop != nil).replacingFirstWord())
        if deadLetters.count > 0 {
            Diagnostics.write("\(deadLetters.count) entr\(deadLetters.count == 1 ? "y" : "ies") failed again, written to \(configuration.deadLetterPath)")
        }
    }
    if let stop, !interrupted {
        let source = configuration.delivery?.writeKeySource ?? "ENCHARGE_WRITE_KEY"
        Diagnostics.write("error: \(stop.message(writeKeySource: source))")
    }
    if interrupted { return RunExitCode.interrupted }
    if stop != nil { return RunExitCode.usage }
    return summary.failed > 0 || (stats?.deadLettered ?? 0) > 0 ? RunExitCode.someFailed : RunExitCode.success
}

extension String {
    /// "done: 3 records, ..." → "3 entries, ..." for the replay summary.
    func replacingFirstWord() -> String {
        var s = self
        if let colon = s.firstIndex(of: ":") { s = String(s[s.index(after: colon)...].drop { $0 == " " }) }
        if s.hasPrefix("interrupted") { return s }
        return s.replacingRecords()
    }

    func replacingRecords() -> String {
        guard let range = range(of: " records,") else { return self }
        return replacingCharacters(in: range, with: " entries,")
    }
}
