import EnchargeKit
import EnchargeRules
import Foundation
import JSONKit
import RecordSources
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// The mapping half of `run`: reads every input, maps each record through the rule, hands the
/// events to a sink and records failures in the dead-letter file.
package final class MappingRun {
    let engine: RuleEngine
    let sink: any EventSink
    let deadLetters: DeadLetterWriter
    let diagnostics: DiagnosticsPrinter
    package var failFast = false
    // `shouldStop`, `onProgress`, `summary` and `current` are read or written for every record, on
    // the thread mapping (or, after it stopped for good, the watchdog's), and never while another
    // access to them is under way: no runtime exclusivity checks.
    /// Checked between records; set from a signal handler to stop reading input.
    @exclusivity(unchecked) package var shouldStop: () -> Bool = { false }
    /// With `--jobs`: ends the run once merging reaches a record whose call a worker's watchdog
    /// gave up (set as `current`), given the message that says so.
    var onAbandonedRecord: ((String) -> Never)?
    /// Called now and then with the reader being read, for a progress line.
    @exclusivity(unchecked) package var onProgress: ((MappingSummary, RecordReader) -> Void)?
    @exclusivity(unchecked) package internal(set) var summary = MappingSummary()
    /// The record being mapped (with `--jobs`, merged) and its source, for `abandonCurrentRecord`.
    @exclusivity(unchecked) var current: (body: InputRecordBody, source: String)?
    private var startedAt = 0.0
    /// With `--jobs`: the repeated JSON keys and the counted rule warnings of every worker's
    /// engine, added up in input order (with one job, the engine's own are the run's).
    var mergedDuplicateKeys: JSONDuplicateKeys?
    var mergedWarnings: RuleWarnings?

    package init(
        engine: RuleEngine, sink: any EventSink, deadLetters: DeadLetterWriter, diagnostics: DiagnosticsPrinter
    ) {
        self.engine = engine
        self.sink = sink
        self.deadLetters = deadLetters
        self.diagnostics = diagnostics
    }

    /// Maps every input in order, on `workers` when given (`--jobs`), else on `engine` on this
    /// thread; the output is the same. Returns the counts; per-record problems never throw.
    func run(inputs: [InputSpec], workers: MappingWorkers? = nil) -> MappingSummary {
        startedAt = SystemClock.monotonicSeconds()
        if let workers {
            ParallelMappingRun(run: self, workers: workers, inputs: inputs).run()
        } else {
            runInputs(inputs)
        }
        reportDuplicateKeyCounts()
        summary.seconds = SystemClock.monotonicSeconds() - startedAt
        return summary
    }

    private func runInputs(_ inputs: [InputSpec]) {
        for (index, input) in inputs.enumerated() {
            let reader: RecordReader
            do { reader = try RecordReader(spec: input, warn: { [unowned self] in report($0) }) } catch {
                // `runJob` checked every input before the first record; this is an input that went
                // away since, or whose --records-path or --delimiter does not fit it.
                inputError(input.unreadableMessage() ?? "error: \(error.description)")
                if failFast { return }
                continue
            }
            var stop = false
            let before = summary
            do {
                try reader.forEach { body, line in
                    if shouldStop() {
                        summary.interrupted = true
                        summary.firstUnreadSource = reader.source(line)
                        summary.unopenedInputs = inputs[(index + 1)...].map { $0.path == "-" ? "stdin" : $0.path }
                        stop = true
                        return false
                    }
                    let source = reader.source(line)
                    summary.records += 1
                    current = (body, source)
                    defer { current = nil }
                    let outcome = engine.map(body, source: source)
                    if engine.trace != nil { writeTrace(source: source, body: body, outcome: outcome) }
                    // A loop, not `forEach(report)`: that would make a closure holding `self` per record.
                    for warning in engine.takeNewDuplicateJSONKeyWarnings(source: source) { report(warning) }
                    guard settle(outcome, body: body, source: source, reader: reader) else {
                        stop = true
                        return false
                    }
                    return true
                }
            } catch {
                inputError(Self.inputErrorLine("\(error)", input: reader.displayName))
                if failFast { return }
            }
            suggestRecordsPath(reader: reader, before: before)
            if stop { break }
        }
    }

    /// Counts one record's outcome, hands its events to the sink and records its failure, in
    /// input order. Returns false when the run stops at this record (`--fail-fast`).
    func settle(_ outcome: RecordOutcome, body: InputRecordBody, source: String, reader: RecordReader) -> Bool {
        switch outcome {
        case .mapped(let events):
            summary.countMapped(events: events.count)
            if !events.isEmpty { sink.emit(events, source: source) }
        case .skipped:
            summary.skipped += 1
        case .failed(let message, let traceback):
            summary.failed += 1
            recordFailure(body: body, message: message, traceback: traceback, source: source)
            if failFast { return false }
        }
        reportProgress(reader: reader)
        return true
    }

    /// Counts a record whose `count` events a `--jobs` worker already wrote out as JSON lines
    /// (`MappingChunk.rendersEvents`), as `settle` counts a mapped record.
    func settle(renderedEvents count: Int, reader: RecordReader) {
        summary.countMapped(events: count)
        reportProgress(reader: reader)
    }

    private func reportProgress(reader: RecordReader) {
        if summary.records & 0x3FF == 0 { onProgress?(summary, reader) }
    }

    func inputError(_ line: String) {
        report(line)
        summary.inputErrors.append(line)
    }

    /// An input that stopped being readable part-way, in compiler form: `in.csv:3: error: ...` when
    /// the reader's message starts with the input's position, else `in.csv: error: ...`.
    static func inputErrorLine(_ message: String, input: String) -> String {
        let message = message.cappedForDiagnostics()
        if message.hasPrefix(input + ":") {
            let afterInput = message.index(message.startIndex, offsetBy: input.count)
            if let gap = message.range(of: ": ", range: afterInput..<message.endIndex) {
                return "\(message[..<gap.lowerBound]): error: \(message[gap.upperBound...])"
            }
        }
        return "\(input): error: \(message)"
    }

    /// Fails the record whose rule call a `RuleWatchdog` gave up: reports it with `message` (the
    /// rule line first), dead-letters it and returns the counts so far. Called on the watchdog
    /// thread, when the thread that ran `run(inputs:)` will never touch this object again.
    func abandonCurrentRecord(message: String) -> MappingSummary {
        summary.seconds = SystemClock.monotonicSeconds() - startedAt
        guard let (body, source) = current else { return summary }
        summary.failed += 1
        if engine.trace != nil {
            writeTrace(source: source, body: body, outcome: .failed(message: message, traceback: nil), abandoned: true)
        }
        recordFailure(body: body, message: message, traceback: nil, source: source)
        return summary
    }

    /// The counted warnings about what the rule's records did, one line per kind.
    func warningLines() -> [String] { mergedWarnings?.lines() ?? engine.warningLines() }

    func recordFailure(body: InputRecordBody, message: String, traceback: String?, source: String) {
        let shown =
            message.hasPrefix(source) || message.hasPrefix(engine.options.rulesPath) ? message : "\(source): \(message)"
        // With --trace the record's block shows the error, in order with what came before it.
        if engine.trace == nil { report(Self.compilerStyle(message.cappedForDiagnostics(), source: source)) }
        let record: JSONValue
        switch body {
        case .json(let bytes):
            if let value = try? JSONValue(parsing: UnsafeRawBufferPointer(bytes)) {
                record = value
            } else {
                record = .string(String(decoding: bytes.prefix(64 << 10), as: UTF8.self))
            }
        case .value(let value): record = value
        case .malformed(_, let raw): record = .string(raw)
        }
        do {
            try deadLetters.writeRecordFailure(record: record, error: shown, traceback: traceback, source: source)
        } catch {
            report("error: cannot write the dead-letter file: \(error)")
        }
    }

    /// Writes the `--trace` block of the record just mapped: what the engine recorded, and the
    /// failures it never saw (input that is not JSON, a call the watchdog gave up).
    private func writeTrace(source: String, body: InputRecordBody, outcome: RecordOutcome, abandoned: Bool = false) {
        var entries = engine.trace!.take()
        if case .malformed(let message, _) = body {
            entries.append(RuleTrace.Entry(ruleLine: nil, kind: .error(message: message, traceback: nil)))
        } else if abandoned, case .failed(let message, _) = outcome {
            entries.append(RuleTrace.Entry(failure: message, traceback: nil))
        }
        diagnostics.writeRaw(
            TraceBlock.render(header: source, entries: entries, outcome: TraceBlock.outcome(of: outcome)))
    }

    /// `rules.lua:3: error: track: user needs email or userId (record in.jsonl:3)`; input
    /// problems read `in.jsonl:4: error: invalid JSON at byte 0: ...`. A long message is cut so the
    /// whole line fits `Diagnostics.maxLineBytes` and still ends with the record it names.
    package static func compilerStyle(_ message: String, source: String) -> String {
        let message = Diagnostics.escaped(message)  // it may quote a record: no forged lines
        let head: String, text: Substring, tail: String
        if message.hasPrefix(source + ": ") {
            (head, text, tail) = (source + ": error: ", message.dropFirst(source.utf8.count + 2), "")
        } else if let (position, rest) = RulePosition.split(message[...]) {
            (head, text, tail) = ("\(position): error: ", rest, " (record \(source))")
        } else {
            (head, text, tail) = ("\(source): error: ", message[...], "")
        }
        // Room for the `… (N bytes more)` marker; a line still too long is cut when it is printed.
        let room = max(Diagnostics.maxLineBytes - head.utf8.count - tail.utf8.count - 32, 256)
        return head + String(text).cappedForDiagnostics(maxBytes: room) + tail
    }

    func report(_ line: String) {
        diagnostics.write(line)
    }
}
