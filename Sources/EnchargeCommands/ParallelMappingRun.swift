import EnchargeRules
import JSONKit
import RecordSources

/// `run --jobs N` with N > 1: this thread reads the inputs into chunks, `MappingWorkers` map them,
/// and this thread merges what they made back in input order through the same `MappingRun`
/// bookkeeping one job uses, so stdout, the dead-letter file, what goes to delivery and stderr are
/// those of one job. At most `maxChunksInFlight` chunks are read ahead, so memory stays bounded.
/// With `--dry-run` the workers write the events' JSON lines themselves, so this thread only
/// copies finished bytes to stdout; merged chunks are filled again, so their buffers are reused.
///
/// What is not a record (an input's warnings and errors, where an input starts and ends, where the
/// reading stopped) waits in the same queue as the chunks, so it is reported where one job would.
final class ParallelMappingRun {
    private enum Step {
        case chunk(MappingChunk, reader: RecordReader, inputIndex: Int)
        /// A line the reader warned with.
        case warning(String)
        case inputError(String)
        case startInput
        case endInput(RecordReader, inputIndex: Int)
        /// The reader saw `shouldStop` before this record of input `inputIndex`.
        case stopBefore(source: String, inputIndex: Int)
    }

    /// Why merging stopped: at a record of input `inputIndex` (whose end is still reported, as one
    /// job does), or at once.
    private enum Halt {
        case atRecord(inputIndex: Int)
        case now
    }

    private let mapping: MappingRun
    /// `mapping.shouldStop`, asked before each record is read and again before it is merged.
    private let shouldStop: () -> Bool
    private let workers: MappingWorkers
    private let inputs: [InputSpec]
    private let maxChunksInFlight: Int
    private var steps: [Step] = []
    /// The chunk being filled, queued when full or before the next step that is not a record.
    private var pending: (chunk: MappingChunk, reader: RecordReader, inputIndex: Int)?
    private var chunksInFlight = 0
    private var halt: Halt?
    private var inputStart = MappingSummary()
    /// With `--dry-run`: where the lines the workers rendered go.
    private let renderedLines: JSONLinesEventWriter?
    /// Merged chunks, emptied, to be filled again.
    private var spareChunks: [MappingChunk] = []

    init(run: MappingRun, workers: MappingWorkers, inputs: [InputSpec]) {
        self.mapping = run
        shouldStop = run.shouldStop
        self.workers = workers
        self.inputs = inputs
        maxChunksInFlight = 4 * workers.count
        renderedLines = run.sink as? JSONLinesEventWriter
        mapping.mergedDuplicateKeys = JSONDuplicateKeys()
        mapping.mergedWarnings = RuleWarnings()
    }

    func run() {
        for (index, input) in inputs.enumerated() {
            if halt != nil { break }
            let reader: RecordReader
            do {
                reader = try RecordReader(spec: input, warn: { [unowned self] in add(.warning($0)) })
            } catch {
                add(.inputError(input.unreadableMessage() ?? "error: \(error.description)"))
                continue
            }
            add(.startInput)
            do {
                try reader.forEach { body, line in
                    guard halt == nil else { return false }
                    if shouldStop() {
                        add(.stopBefore(source: reader.source(line), inputIndex: index))
                        return false
                    }
                    if pending == nil { pending = (spareChunk(), reader, index) }
                    let chunk = pending!.chunk
                    chunk.append(body, line: line, of: reader)
                    if chunk.isFull { add(nil) }
                    return true
                }
            } catch {
                add(.inputError(MappingRun.inputErrorLine("\(error)", input: reader.displayName)))
            }
            add(.endInput(reader, inputIndex: index))
        }
        add(nil)
        while !steps.isEmpty { mergeFirst() }
    }

    /// Queues the pending chunk (to the workers too), then `step`, then merges what is ready:
    /// every step before the first chunk still being mapped and, while too many chunks are in
    /// flight, the first chunk once it is done.
    private func add(_ step: Step?) {
        if let (chunk, reader, index) = pending {
            pending = nil
            if halt == nil {
                workers.map(chunk)
                chunksInFlight += 1
                steps.append(.chunk(chunk, reader: reader, inputIndex: index))
            }
        }
        if let step { steps.append(step) }
        while let first = steps.first {
            if case .chunk(let chunk, _, _) = first, chunksInFlight <= maxChunksInFlight, !chunk.isSettled { break }
            mergeFirst()
        }
    }

    /// A chunk to fill: a merged one when there is one.
    private func spareChunk() -> MappingChunk {
        let chunk = spareChunks.popLast() ?? MappingChunk()
        chunk.rendersEvents = renderedLines != nil
        return chunk
    }

    private func mergeFirst() {
        let step = steps.removeFirst()
        if case .chunk = step { chunksInFlight -= 1 }
        switch halt {
        case .now?: return
        case .atRecord(let stopped)?:
            // One job still says what it noticed about the input it stopped in.
            if case .endInput(let reader, let index) = step, index == stopped {
                mapping.suggestRecordsPath(reader: reader, before: inputStart)
                halt = .now
            }
            return
        case nil: break
        }
        switch step {
        case .chunk(let chunk, let reader, let index):
            if merge(chunk, reader: reader, inputIndex: index) {
                chunk.reset()
                spareChunks.append(chunk)
            }
        case .warning(let line): mapping.report(line)
        case .inputError(let line):
            mapping.inputError(line)
            if mapping.failFast { halt = .now }
        case .startInput: inputStart = mapping.summary
        case .endInput(let reader, _): mapping.suggestRecordsPath(reader: reader, before: inputStart)
        case .stopBefore(let source, let index): stop(before: source, inputIndex: index)
        }
    }

    /// Merges the chunk's records in order, as `MappingRun` does for one job after each call.
    /// Returns whether the run goes on past the chunk with nothing of it given up, so it can be filled again.
    private func merge(_ chunk: MappingChunk, reader: RecordReader, inputIndex: Int) -> Bool {
        let state = chunk.waitUntilSettled()
        let merged = mergeRecords(of: chunk, state, reader: reader, inputIndex: inputIndex)
        // The lines of the merged records' events in one piece: stdout gets the bytes one job writes.
        if let renderedLines, merged > 0 {
            chunk.withRenderedLines(ofFirst: merged, in: state) { renderedLines.emit(renderedLines: $0) }
        }
        guard halt == nil, merged == state.mapped.count else { return false }
        guard let message = state.abandoned else { return true }
        guard let onAbandoned = mapping.onAbandonedRecord else { return false }
        // The watchdog gave up the call of the next record: the run ends there, as with one job.
        chunk.withRecord(merged) { body, source -> Never in
            mapping.summary.records += 1
            mapping.current = (body, source)
            onAbandoned(message)
        }
    }

    /// Settles the records `state` has for `chunk` in order, until a stop; returns how many.
    private func mergeRecords(
        of chunk: MappingChunk, _ state: MappingChunk.State, reader: RecordReader, inputIndex: Int
    ) -> Int {
        for (index, mapped) in state.mapped.enumerated() {
            guard halt == nil else { return index }
            if shouldStop() {
                stop(before: chunk.source(index), inputIndex: inputIndex)
                return index
            }
            mapping.summary.records += 1
            if !mapped.log.isEmpty { mapping.diagnostics.writeRaw(mapped.log) }
            if let keys = mapped.duplicateKeys {
                mapping.mergedDuplicateKeys!.merge(keys)
                let source = chunk.source(index)
                for key in mapping.mergedDuplicateKeys!.takeNew() {
                    mapping.report(RuleEngine.duplicateJSONKeyWarning(key: key, source: source))
                }
            }
            if let warnings = mapped.warnings { mapping.mergedWarnings!.merge(warnings) }
            if let count = mapped.renderedEvents {
                mapping.settle(renderedEvents: count, reader: reader)
            } else if !chunk.withRecord(index, { mapping.settle(mapped.outcome, body: $0, source: $1, reader: reader) })
            {
                halt = .atRecord(inputIndex: inputIndex)
            }
        }
        return state.mapped.count
    }

    /// Stops before the record at `source` (an interrupt, or a delivery engine that stopped).
    private func stop(before source: String, inputIndex index: Int) {
        mapping.summary.interrupted = true
        mapping.summary.firstUnreadSource = source
        mapping.summary.unopenedInputs = inputs[(index + 1)...].map { $0.path == "-" ? "stdin" : $0.path }
        halt = .atRecord(inputIndex: index)
    }
}
