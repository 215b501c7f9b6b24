import JSONKit
import LuaKit
import SystemKit

extension RuleEngine {
    /// `log.debug/info/warn/error(...)` (and `print`, as info): to `options.logWriter`, prefixed with the
    /// source of the record being mapped and the rule line: `signups.jsonl:3: info: hi (rules.lua:7)`.
    func installLogModule() {
        var functions: [(String, LuaFunction)] = []
        for level in LogLevel.allCases {
            functions.append(
                (
                    "\(level)",
                    { [unowned self] state in
                        self.log(state, level: level)
                        return 0
                    }
                ))
        }
        state.defineModule("log", functions: functions)
        state.push(function: { [unowned self] state in
            self.log(state, level: .info)
            return 0
        })
        state.setGlobal("print")
    }

    private func log(_ state: LuaState, level: LogLevel) {
        guard level >= options.logLevel else { return }
        // `log.warn` prints `warning:` like every other warning of the tool.
        let prefix = "\(currentSource): \(level == .warn ? "warning" : "\(level)"): "
        let suffix = state.position(level: 1).map { " (\($0.source):\($0.line))" } ?? ""
        // The values may come from a record: escaped so they cannot forge a line of output. Only
        // what fits the line is read, so a huge string is never copied, and the rule line stays.
        var message = BoundedLogText(budget: Diagnostics.maxLineBytes - prefix.utf8.count - suffix.utf8.count - 64)
        let count = state.top
        if count > 0 {
            for i in 1...count {
                if i > 1 && !message.isFull { message.append(" ") }
                if state.withStringBytes(at: i, { message.append(bytes: $0) }) != nil { continue }
                let type = state.type(at: i)
                if message.isFull && (type == .table || type == .userdata || type == .lightUserdata) {
                    message.omitValue()  // not converted: nothing of it would be shown
                } else {
                    message.append(Self.describe(state, at: i))
                }
            }
        }
        if trace != nil {
            // Shown in the trace block, in order with the events, instead of on its own line.
            traceStep(.log(level, message.text))
            return
        }
        options.logWriter.write(Diagnostics.line(prefix + message.text + suffix))
    }

    static func describe(_ state: LuaState, at index: Int32) -> String {
        switch state.type(at: index) {
        case .string: return state.string(at: index) ?? ""
        case .number:
            if let i = state.integer(at: index) { return String(i) }
            return String(state.number(at: index) ?? 0)
        case .boolean: return state.boolean(at: index) ? "true" : "false"
        case .nil, .none: return "nil"
        case .table:
            // A bounded conversion: a table too large for a log line prints as "table".
            if let json = try? state.toJSON(at: index, maxBytes: 64 << 10) { return json.encoded() }
            return "table"
        case .lightUserdata:
            if let json = try? state.toJSON(at: index) { return json.encoded() }
            return "userdata"
        case .userdata:
            return state.bigIntegerDigits(at: index) ?? "userdata"
        case let other: return other.name
        }
    }
}
