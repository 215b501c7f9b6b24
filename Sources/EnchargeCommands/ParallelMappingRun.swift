import EnchargeRules
import JSONKit
import RecordSources

/// `run --jobs N` with N > 1: this thread reads the inputs into chunks, `MappingWorkers` map them,
/// and this thread merges what they made back in input order through the same `MappingRun`
/// bookkeeping one job uses, so stdout, the dead-letter file, what goes to delivery and stderr are
/// those of one job. At most `maxChunksInFlight` chunks are read ahead, so memory stays bounded.
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
    private let workers: MappingWorkers
    private let inputs: [InputSpec]
    private let maxChunksInFlight: Int
    private var steps: [Step] = []
    /// The chunk being filled, queued when full or before the next step that is not a record.
    private var pending: (chunk: MappingChunk, reader: RecordReader, inputIndex: Int)?
    private var chunksInFlight = 0
    private var halt: Halt?
    private var inputStart = MappingSummary()

    init(run: MappingRun, workers: MappingWorkers, inputs: [InputSpec]) {
        self.mapping = run
        self.workers = workers
        self.inputs = inputs
        maxChunksInFlight = 4 * workers.count
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
                    if mapping.shouldStop() {
                        add(.stopBefore(source: reader.source(line), inputIndex: index))
                        return false
                    }
                    let chunk = pending?.chunk ?? MappingChunk()
                    chunk.append(body, source: reader.source(line))
                    pending = (chunk, reader, index)
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
        case .chunk(let chunk, let reader, let index): merge(chunk, reader: reader, inputIndex: index)
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
    private func merge(_ chunk: MappingChunk, reader: RecordReader, inputIndex: Int) {
        let state = chunk.waitUntilSettled()
        for (index, mapped) in state.mapped.enumerated() {
            guard halt == nil else { return }
            chunk.withRecord(index) { body, source in
                if mapping.shouldStop() {
                    stop(before: source, inputIndex: inputIndex)
                    return
                }
                mapping.summary.records += 1
                if !mapped.log.isEmpty { mapping.diagnostics.writeRaw(mapped.log) }
                if let keys = mapped.duplicateKeys {
                    mapping.mergedDuplicateKeys!.merge(keys)
                    for key in mapping.mergedDuplicateKeys!.takeNew() {
                        mapping.report(RuleEngine.duplicateJSONKeyWarning(key: key, source: source))
                    }
                }
                if let warnings = mapped.warnings { mapping.mergedWarnings!.merge(warnings) }
                if !mapping.settle(mapped.outcome, body: body, source: source, reader: reader) {
                    halt = .atRecord(inputIndex: inputIndex)
                }
            }
        }
        guard halt == nil, let message = state.abandoned, let onAbandoned = mapping.onAbandonedRecord else { return }
        // The watchdog gave up the call of the next record: the run ends there, as with one job.
        chunk.withRecord(state.mapped.count) { body, source in
            mapping.summary.records += 1
            mapping.current = (body, source)
            onAbandoned(message)
        }
    }

    /// Stops before the record at `source` (an interrupt, or a delivery engine that stopped).
    private func stop(before source: String, inputIndex index: Int) {
        mapping.summary.interrupted = true
        mapping.summary.firstUnreadSource = source
        mapping.summary.unopenedInputs = inputs[(index + 1)...].map { $0.path == "-" ? "stdin" : $0.path }
        halt = .atRecord(inputIndex: index)
    }
}
