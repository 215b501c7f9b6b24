import JSONKit
import LuaKit

extension RuleEngine {
    /// Maps one JSON record (its raw bytes): decodes it straight into Lua and calls `on_record`.
    /// `source` names the record in messages and is the rule's `ctx.source` (`in.jsonl:2`).
    public func map(json bytes: UnsafeRawBufferPointer, source: String) -> RecordOutcome {
        guard let onRecordRef else {
            return failure("\(options.rulesPath): no on_record function", source: source)
        }
        if let first = bytes.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }),
            first != UInt8(ascii: "{")
        {
            // Valid JSON that is not an object is still not a record; say what it is.
            if let value = try? JSONValue(parsing: bytes) {
                return failure("\(source): record is \(value.kindDescription), expected a JSON object", source: source)
            }
        }
        state.top = 0
        state.pushReference(onRecordRef)
        do {
            try state.pushJSON(parsing: bytes)
        } catch {
            state.top = 0
            return failure("\(source): \(error.description); fix the input line", source: source)
        }
        return callOnRecord(source: source)
    }

    /// Maps one record given as a JSON value (CSV rows, replayed records). `source` names the
    /// record in messages and is the rule's `ctx.source`.
    public func map(value: JSONValue, source: String) -> RecordOutcome {
        guard let onRecordRef else {
            return failure("\(options.rulesPath): no on_record function", source: source)
        }
        guard case .object = value else {
            return failure("\(source): record is \(value.kindDescription), expected a JSON object", source: source)
        }
        state.top = 0
        state.pushReference(onRecordRef)
        state.push(json: value)
        return callOnRecord(source: source)
    }

    private func callOnRecord(source: String) -> RecordOutcome {
        guard state.type(at: -1) == .table else {
            let kind = state.type(at: -1) == .lightUserdata ? "null" : state.type(at: -1).name
            state.top = 0
            return failure(
                "\(source): record is \(kind == "number" ? "a number" : kind == "string" ? "a string" : kind), expected a JSON object",
                source: source)
        }
        state.pushReference(contextRef)
        state.push(source)
        state.rawSetField("source", in: -2)
        currentSource = source
        pending.removeAll(keepingCapacity: true)
        skipReason = nil
        do {
            try state.call(arguments: 2, results: 1)
        } catch {
            state.top = 0
            pending.removeAll(keepingCapacity: true)
            return failure(error.message, traceback: error.traceback, source: source)
        }
        if !state.isNoneOrNil(-1) {
            // `return { ... }`, the Segment/RudderStack habit: nothing reads it.
            runWarnings.count(.ignoredReturn, ruleLine: onRecordLine, source: source)
        }
        state.top = 0
        if let skipReason { return .skipped(skipReason) }
        return .mapped(pending)
    }
}
