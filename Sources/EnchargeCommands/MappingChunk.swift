import EnchargeKit
import EnchargeRules
import JSONKit
import RecordSources
import SystemKit

/// Consecutive records, copied out of the input by the thread that reads, mapped by one
/// `MappingWorkers` thread, and merged back in input order by the reading thread (`--jobs`).
/// The reading thread may `reset` a merged chunk and fill it again, so its buffers are reused.
final class MappingChunk: @unchecked Sendable {
    // Invariant: `bytes`, `records`, `reader` and `rendersEvents` are written by the reading
    // thread before the chunk is queued (or after it settled) and only read in between; `output`
    // is written by the worker before it publishes each record in `state`, under its lock, and read
    // by the merging thread only for the records published.

    /// A record as the chunk keeps it: JSON bytes are copied into `bytes`.
    enum Record {
        case json(Range<Int>)
        case value(JSONValue)
        case malformed(message: String, raw: String)
    }

    /// Where a record came from: a line of the chunk's `reader`, whose source text is made only by
    /// the thread that needs it, or a source given as text.
    enum Source {
        case line(Int)
        case text(String)
    }

    /// What a worker made of one record: the outcome and what the call wrote or noted on the way,
    /// to be reported in input order.
    struct Mapped: Sendable {
        var outcome: RecordOutcome
        /// With `rendersEvents`, for a record the rule mapped: how many events it emitted. Their JSON
        /// lines are in `output` up to `outputEnd`, and `outcome` holds none.
        var renderedEvents: Int?
        /// Where this record's lines end in `output` (where the previous record's ended when it has none).
        var outputEnd: Int
        /// The rule's `log.*` lines, as they would have been written.
        var log: String
        var duplicateKeys: JSONDuplicateKeys?
        var warnings: RuleWarnings?
    }

    struct State {
        var mapped: [Mapped] = []
        var finished = false
        /// The watchdog gave up the call of record `mapped.count`; the message says where and why.
        var abandoned: String?
    }

    /// Records a chunk takes at most, and bytes of JSON after which it takes no more.
    static let maxRecords = 256
    static let maxBytes = 1 << 20

    // Touched once per record by one thread at a time (see the invariant): no runtime exclusivity checks.
    @exclusivity(unchecked) private(set) var bytes: [UInt8] = []
    @exclusivity(unchecked) private(set) var records: [(record: Record, source: Source)] = []
    /// The reader the `.line` sources are lines of.
    private(set) var reader: RecordReader?
    /// Whether the worker writes the events of each mapped record as `--dry-run` JSON lines into
    /// `output` (and frees them on its own thread) rather than handing them over.
    var rendersEvents = false
    /// The JSON lines of the events of the records mapped so far, with `rendersEvents`.
    @exclusivity(unchecked) private(set) var output = JSONWriter(capacity: 0)
    let state = ConditionLock(State())

    init() {
        records.reserveCapacity(Self.maxRecords)
        state.withLock { $0.mapped.reserveCapacity(Self.maxRecords) }
    }

    var isFull: Bool { records.count >= Self.maxRecords || bytes.count >= Self.maxBytes }

    /// Empties a chunk that was merged (settled, not given up) so it can be filled again; its
    /// buffers keep their capacity.
    func reset() {
        bytes.removeAll(keepingCapacity: true)
        records.removeAll(keepingCapacity: true)
        output.bytes.removeAll(keepingCapacity: true)
        reader = nil
        state.withLock {
            $0.mapped.removeAll(keepingCapacity: true)
            $0.finished = false
        }
    }

    /// Copies one record the reader produced (its bytes are valid only during the reader's
    /// callback), at `source`.
    func append(_ body: InputRecordBody, source: String) {
        append(body, at: .text(source))
    }

    /// Copies record `line` of `reader`, which every `.line` record of the chunk comes from.
    func append(_ body: InputRecordBody, line: Int, of reader: RecordReader) {
        if self.reader == nil { self.reader = reader }
        append(body, at: .line(line))
    }

    private func append(_ body: InputRecordBody, at source: Source) {
        switch body {
        case .json(let raw):
            let start = bytes.count
            bytes.append(contentsOf: raw)
            records.append((.json(start..<bytes.count), source))
        case .value(let value): records.append((.value(value), source))
        case .malformed(let message, let raw): records.append((.malformed(message: message, raw: raw), source))
        }
    }

    /// The source of record `index` (`signups.jsonl:42`).
    func source(_ index: Int) -> String {
        switch records[index].source {
        case .line(let line): reader!.source(line)
        case .text(let text): text
        }
    }

    /// Calls `body` with record `index` as the reader produced it, and its source.
    func withRecord<R>(_ index: Int, _ body: (InputRecordBody, String) -> R) -> R {
        let source = source(index)
        switch records[index].record {
        case .json(let range):
            return bytes.withUnsafeBytes { body(.json(UnsafeRawBufferPointer(rebasing: $0[range])), source) }
        case .value(let value): return body(.value(value), source)
        case .malformed(let message, let raw): return body(.malformed(message: message, raw: raw), source)
        }
    }

    /// Calls `body` with the JSON lines of the events of the first `count` records of `state`.
    func withRenderedLines<R>(ofFirst count: Int, in state: State, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let end = count == 0 ? 0 : state.mapped[count - 1].outputEnd
        return output.bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[..<end])) }
    }

    /// Maps every record on `engine` (whose `log.*` lines go to `log`), publishing each result as
    /// it comes; stops early when `cancelled` says so.
    func map(on engine: RuleEngine, log: RecordLogBuffer, cancelled: () -> Bool) {
        for index in records.indices {
            if cancelled() { break }
            var outcome = withRecord(index) { engine.map($0, source: $1) }
            var renderedEvents: Int?
            if rendersEvents, case .mapped(let events) = outcome {
                JSONLinesEventWriter.appendLines(of: events, to: &output)
                renderedEvents = events.count
                outcome = .mapped([])
            }
            let mapped = Mapped(
                outcome: outcome, renderedEvents: renderedEvents, outputEnd: output.bytes.count, log: log.take(),
                duplicateKeys: engine.takeDuplicateJSONKeys(),
                warnings: engine.runWarnings.isEmpty ? nil : engine.takeRunWarnings())
            state.withLock { $0.mapped.append(mapped) }
        }
        state.withLock { $0.finished = true }
        state.broadcast()
    }

    /// Called on a watchdog thread once it gave up the call of the record being mapped.
    func abandon(message: String) {
        state.withLock { $0.abandoned = message }
        state.broadcast()
    }

    /// Whether the worker is done with the chunk (or it was given up), without waiting.
    var isSettled: Bool { state.withLock { $0.finished || $0.abandoned != nil } }

    /// Waits until the worker is done with the chunk or its call was given up.
    func waitUntilSettled() -> State {
        state.withLock(whenReady: { $0.finished || $0.abandoned != nil }) { $0 }
    }
}
