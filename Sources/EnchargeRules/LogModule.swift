import JSONKit
import LuaKit

#if canImport(Glibc)
import Glibc
#endif

/// How much `log.*` prints.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case debug, info, warn, error

    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { "\($0)" == name.lowercased() }) else { return nil }
        self = level
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Lines for people, on stderr. One `fwrite` per line so lines from several threads never mix.
public enum Diagnostics {
    public static func write(_ line: String) {
        writeRaw(line.hasSuffix("\n") ? line : line + "\n")
    }

    /// Writes text as is (no newline added), for the progress line.
    public static func writeRaw(_ line: String) {
        var text = line
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }
}

extension RuleEngine {
    /// `log.debug/info/warn/error(...)` (and `print`, as info): to stderr, prefixed with the
    /// source of the record being mapped and the rule line: `signups.jsonl:3: info: hi (rules.lua:7)`.
    func installLogModule() {
        var functions: [(String, LuaFunction)] = []
        for level in LogLevel.allCases {
            functions.append(("\(level)", { [unowned self] state in
                self.log(state, level: level)
                return 0
            }))
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
        var parts: [String] = []
        let count = state.top
        if count > 0 {
            for i in 1...count { parts.append(Self.describe(state, at: i)) }
        }
        var line = "\(currentSource): \(level): \(parts.joined(separator: " "))"
        if let position = state.position(level: 1) { line += " (\(position.source):\(position.line))" }
        Diagnostics.write(line)
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
        case let other: return other.name
        }
    }

    /// For `check`: globals assigned by the top level of the rules file are declarations;
    /// any other assignment to a global is reported as a warning with its line.
    func installGlobalsLint() {
        state.newTable()
        state.push(function: { [unowned self] state in
            // __newindex(t, k, v)
            let name = state.string(at: 2) ?? "?"
            if self.lintActive {
                if !self.declaredGlobals.contains(name) {
                    let position = state.position(level: 1).map { "\($0.source):\($0.line)" } ?? self.options.rulesPath
                    let warning = "\(position): warning: assignment to undeclared global '\(name)' (declare it with 'local', or at the top level of the file)"
                    if !self.warnings.contains(warning) { self.warnings.append(warning) }
                }
            } else {
                self.declaredGlobals.insert(name)
            }
            state.top = 3
            try state.rawSet(tableAt: 1)  // rawset(t, k, v); a nil or NaN key raises
            return 0
        })
        state.rawSetField("__newindex", in: -2)
        state.getGlobal("_G")
        state.pushValue(at: -2)
        state.setMetatableOfValueBelow()
        state.top = 0
    }
}
