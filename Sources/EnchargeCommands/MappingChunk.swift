import EnchargeRules
import JSONKit
import RecordSources
import SystemKit

/// Consecutive records, copied out of the input by the thread that reads, mapped by one
/// `MappingWorkers` thread, and merged back in input order by the reading thread (`--jobs`).
final class MappingChunk: @unchecked Sendable {
    // Invariant: `bytes` and `records` are written by the reading thread before the chunk is
    // queued and only read after; what the worker produces is in `state`, under its lock.

    /// A record as the chunk keeps it: JSON bytes are copied into `bytes`.
    enum Record {
        case json(Range<Int>)
        case value(JSONValue)
        case malformed(message: String, raw: String)
    }

    /// What a worker made of one record: the outcome and what the call wrote or noted on the way,
    /// to be reported in input order.
    struct Mapped: Sendable {
        var outcome: RecordOutcome
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

    private(set) var bytes: [UInt8] = []
    private(set) var records: [(record: Record, source: String)] = []
    let state = ConditionLock(State())

    init() {
        records.reserveCapacity(Self.maxRecords)
    }

    var isFull: Bool { records.count >= Self.maxRecords || bytes.count >= Self.maxBytes }

    /// Copies one record the reader produced (its bytes are valid only during the reader's callback).
    func append(_ body: InputRecordBody, source: String) {
        switch body {
        case .json(let raw):
            let start = bytes.count
            bytes.append(contentsOf: raw)
            records.append((.json(start..<bytes.count), source))
        case .value(let value): records.append((.value(value), source))
        case .malformed(let message, let raw): records.append((.malformed(message: message, raw: raw), source))
        }
    }

    /// Calls `body` with record `index` as the reader produced it.
    func withRecord<R>(_ index: Int, _ body: (InputRecordBody, String) -> R) -> R {
        let (record, source) = records[index]
        switch record {
        case .json(let range):
            return bytes.withUnsafeBytes { body(.json(UnsafeRawBufferPointer(rebasing: $0[range])), source) }
        case .value(let value): return body(.value(value), source)
        case .malformed(let message, let raw): return body(.malformed(message: message, raw: raw), source)
        }
    }

    /// Maps every record on `engine` (whose `log.*` lines go to `log`), publishing each result as
    /// it comes; stops early when `cancelled` says so.
    func map(on engine: RuleEngine, log: RecordLogBuffer, cancelled: () -> Bool) {
        for index in records.indices {
            if cancelled() { break }
            let outcome = withRecord(index) { engine.map($0, source: $1) }
            let mapped = Mapped(
                outcome: outcome, log: log.take(), duplicateKeys: engine.takeDuplicateJSONKeys(),
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
