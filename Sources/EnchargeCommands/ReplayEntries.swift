import EnchargeKit
import EnchargeRules
import JSONKit
import RecordSources
import SystemKit

/// Reads the dead-letter file of `replay` and replays its entries in input order: events are sent
/// again as they are, record entries are mapped again, on the rule's engine on this thread (one
/// job) or on `MappingWorkers` (`--jobs`), whose results are merged back in input order, so the
/// output is the same. What is read ahead waits in `inFlight`, at most four chunks per worker.
final class ReplayEntries {
    /// A line of the file, as read.
    private enum Item {
        case invalidLine(DeadLetterError)
        /// An entry within `--run-id`; `ordinal` counts every entry of the file up to it, and
        /// `value` is the record to map again (nil for other entries, or without a rule).
        case entry(DeadLetterEntry, ordinal: Int, source: String, value: JSONValue?)
    }

    let configuration: ReplayJobConfiguration
    let progress: ReplayProgress
    let engine: RuleEngine?
    let sink: any EventSink
    let deadLetters: DeadLetterWriter
    let diagnostics: DiagnosticsPrinter
    /// Checked before each entry: an interrupt, or a delivery engine that stopped.
    let shouldStop: () -> Bool
    /// With `--jobs`: ends the replay once merging reaches an entry whose call a worker's watchdog
    /// gave up (set as `progress.current`), given the message that says so.
    var onAbandonedEntry: ((String) -> Never)?

    /// Record entries left as they are for want of a rule.
    private(set) var keptRecords = 0
    /// Entries within `--run-id`.
    private(set) var ofTheRuns = 0
    /// When reading stopped early: how many entries of the file were read before.
    private(set) var readBeforeStop: Int?
    /// With `--jobs`: the counted rule warnings of every worker's engine, in input order.
    private var mergedWarnings: RuleWarnings?

    private var entriesRead = 0
    private var linesRead = 0
    private var batch: [Item] = []
    private var chunk = MappingChunk()
    private var inFlight: [(items: [Item], chunk: MappingChunk)] = []
    static let maxBatch = 1024

    init(
        configuration: ReplayJobConfiguration, progress: ReplayProgress, engine: RuleEngine?, sink: any EventSink,
        deadLetters: DeadLetterWriter, diagnostics: DiagnosticsPrinter, shouldStop: @escaping () -> Bool
    ) {
        self.configuration = configuration
        self.progress = progress
        self.engine = engine
        self.sink = sink
        self.deadLetters = deadLetters
        self.diagnostics = diagnostics
        self.shouldStop = shouldStop
    }

    /// Replays the whole file (or up to a stop). Throws when the file cannot be read.
    func run(workers: MappingWorkers?) throws {
        if workers != nil { mergedWarnings = RuleWarnings() }
        try DeadLetterEntry.forEach(
            inFile: configuration.inputPath,
            invalidLine: { error in
                linesRead += 1
                take(.invalidLine(error), workers: workers)
            }
        ) { entry in
            entriesRead += 1
            if !configuration.runIDs.isEmpty, !configuration.runIDs.contains(entry.runID ?? "") { return true }
            ofTheRuns += 1
            if shouldStop() {
                progress.summary.interrupted = true
                readBeforeStop = entriesRead - 1
                return false
            }
            linesRead += 1
            let source = entry.source ?? "\(configuration.inputPath):\(linesRead)"
            var value: JSONValue? = nil
            if engine != nil, !entry.dryRun, entry.kind == .record {
                value = entry.record ?? .null
                if case .string(let text) = value, let parsed = try? JSONValue(parsing: text) { value = parsed }
            }
            take(.entry(entry, ordinal: entriesRead, source: source, value: value), workers: workers)
            return true
        }
        if let workers {
            submit(to: workers)
            while !inFlight.isEmpty { mergeFirst() }
        }
    }

    /// The counted warnings about what the rule's records did, one line per kind.
    func warningLines() -> [String] { mergedWarnings?.lines() ?? engine?.warningLines() ?? [] }

    private func take(_ item: Item, workers: MappingWorkers?) {
        guard let workers else {
            replay(item) { record, value, source in
                progress.current = (record, source)
                defer { progress.current = nil }
                return engine!.map(value: value, source: source)
            }
            return
        }
        if case .entry(_, _, let source, let value?) = item { chunk.append(.value(value), source: source) }
        batch.append(item)
        guard chunk.isFull || batch.count >= Self.maxBatch else { return }
        submit(to: workers)
        while let first = inFlight.first,
            inFlight.count > 4 * workers.count || first.chunk.records.isEmpty || first.chunk.isSettled
        {
            mergeFirst()
        }
    }

    private func submit(to workers: MappingWorkers) {
        guard !batch.isEmpty else { return }
        if !chunk.records.isEmpty { workers.map(chunk) }
        inFlight.append((batch, chunk))
        (batch, chunk) = ([], MappingChunk())
    }

    /// Replays the first batch read ahead, taking the outcomes of its record entries from its chunk.
    private func mergeFirst() {
        let (items, chunk) = inFlight.removeFirst()
        let state = chunk.records.isEmpty ? MappingChunk.State() : chunk.waitUntilSettled()
        var next = 0
        for item in items {
            replay(item) { record, _, source in
                guard next < state.mapped.count else {
                    // The watchdog gave this entry's call up: the replay ends here, as with one job.
                    progress.current = (record, source)
                    onAbandonedEntry!(state.abandoned ?? "")
                }
                let mapped = state.mapped[next]
                next += 1
                if !mapped.log.isEmpty { diagnostics.writeRaw(mapped.log) }
                if let warnings = mapped.warnings { mergedWarnings?.merge(warnings) }
                return mapped.outcome
            }
        }
    }

    /// Replays one line of the file, in input order; `map` maps a record entry's value again.
    private func replay(_ item: Item, map: (JSONValue, JSONValue, String) -> RecordOutcome) {
        switch item {
        case .invalidLine(let error):
            progress.summary.records += 1
            progress.summary.failed += 1
            let position = "\(error.path):\(error.line ?? progress.summary.records)"
            let reason = error.message.cappedForDiagnostics()
            diagnostics.write(
                "\(position): error: not a dead-letter entry (\(reason)); the line is skipped and the rest replayed")
        case .entry(let entry, let ordinal, let source, let value):
            progress.entriesSeen = ordinal
            progress.summary.records += 1
            if entry.dryRun {
                progress.summary.refused += 1
                return
            }
            switch entry.kind {
            case .event: sendAgain(entry, source: source)
            case .record:
                let record = entry.record ?? .null
                guard let value else {
                    keptRecords += 1
                    progress.summary.failed += 1
                    try? deadLetters.writeRecordFailure(
                        record: record, error: entry.error ?? "not replayed", traceback: entry.traceback, source: source
                    )
                    return
                }
                switch map(record, value, source) {
                case .mapped(let events):
                    progress.summary.countMapped(events: events.count)
                    if !events.isEmpty { sink.emit(events, source: source) }
                case .skipped:
                    progress.summary.skipped += 1
                case .failed(let message, let traceback):
                    progress.summary.failed += 1
                    diagnostics.write(MappingRun.compilerStyle(message.cappedForDiagnostics(), source: source))
                    try? deadLetters.writeRecordFailure(
                        record: record, error: message, traceback: traceback, source: source)
                }
            }
        }
    }

    private func sendAgain(_ entry: DeadLetterEntry, source: String) {
        do {
            let event = try Event(validating: entry.event ?? .null)
            progress.summary.countMapped(events: 1)
            sink.emit([event], source: source)
        } catch {
            progress.summary.failed += 1
            diagnostics.write(
                "\(source): error: the dead-lettered event is not valid: \(Diagnostics.escaped("\(error)"))")
            if let event = entry.event {
                try? deadLetters.writeRecordFailure(
                    record: event, error: "invalid event: \(error)", traceback: nil, source: source)
            }
        }
    }
}
