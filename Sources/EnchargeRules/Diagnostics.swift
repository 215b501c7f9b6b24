import EnchargeKit
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
///
/// Every line is capped at `maxLineBytes` and has its control characters other than newline and
/// tab escaped, so no message can move the cursor, recolour the terminal or hide text. Values a
/// record, a request or a rule chose go through `escaped(_:)` at the call site, which escapes
/// newlines too, so such a value can never start a line that looks like the tool's own.
public enum Diagnostics {
    /// The longest line written; the rest is replaced by `… (N bytes more)`.
    public static let maxLineBytes = 4096

    public static func write(_ line: String) {
        let body = line.hasSuffix("\n") ? String(line.dropLast()) : line
        writeRaw(capped(escaped(body, keepingLayout: true)) + "\n")
    }

    /// Writes text as is (no newline added, nothing escaped), for the progress line.
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

    /// `text` with every control character shown as an escape: `\n`, `\r`, `\t`, `\0`, and
    /// `\u001b` for ESC and the rest of C0, DEL and C1. With `keepingLayout`, newline and tab stay
    /// as they are (for the tool's own multi-line messages, such as a traceback).
    public static func escaped(_ text: some StringProtocol, keepingLayout: Bool = false) -> String {
        let scalars = text.unicodeScalars
        guard scalars.contains(where: { needsEscape($0, keepingLayout: keepingLayout) }) else { return String(text) }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in scalars {
            guard needsEscape(scalar, keepingLayout: keepingLayout) else {
                result.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\0": result += "\\0"
            default:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            }
        }
        return result
    }

    private static func needsEscape(_ scalar: Unicode.Scalar, keepingLayout: Bool) -> Bool {
        let value = scalar.value
        if keepingLayout && (scalar == "\n" || scalar == "\t") { return false }
        return value < 0x20 || (0x7F...0x9F).contains(value)
    }

    /// `text` cut to at most `limit` bytes of UTF-8 (at a character boundary) followed by
    /// `… (N bytes more)` naming what was left out; shorter text is returned as is. The same cut
    /// as `cappedForDiagnostics`, so a message cut before keeps one marker with the whole count.
    public static func capped(_ text: String, limit: Int = maxLineBytes) -> String {
        text.cappedForDiagnostics(maxBytes: limit)
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
        Diagnostics.write(prefix + message.text + suffix)
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

    /// For `check`: globals assigned by the top level of the rules file are declarations;
    /// any other assignment to a global is reported as a warning with its line.
    func installGlobalsLint() {
        // Share _G's metatable (its __index reports removed globals) when it has one.
        state.getGlobal("_G")
        if !state.pushMetatable(of: -1) { state.newTable() }
        state.push(function: { [unowned self] state in
            // __newindex(t, k, v); only a string key names a global (rawset refuses a nil or NaN key).
            if let name = state.string(at: 2) {
                if self.lintActive {
                    if !self.declaredGlobals.contains(name) {
                        let position = state.position(level: 1).map { "\($0.source):\($0.line)" } ?? self.options.rulesPath
                        let warning = "\(position): warning: assignment to undeclared global '\(name)' (declare it with 'local', or at the top level of the file)"
                        if !self.warnings.contains(warning) { self.warnings.append(warning) }
                    }
                } else {
                    self.declaredGlobals.insert(name)
                }
            }
            state.top = 3
            try state.rawSet(tableAt: 1)  // rawset(t, k, v); a nil or NaN key raises
            return 0
        })
        state.rawSetField("__newindex", in: -2)
        state.setMetatableOfValueBelow()
        state.top = 0
    }
}

/// The message of one `log.*` line: at most `budget` bytes of escaped text, then
/// `… (N bytes more)` counting the bytes of the values left out, which are never read, and
/// `… (N bytes and M values more)` once tables after the cut were not even converted.
struct BoundedLogText {
    private(set) var shown = ""
    private var omitted = 0
    private var omittedValues = 0
    let budget: Int

    init(budget: Int) { self.budget = max(budget, 0) }

    /// Whether anything was left out, so nothing more will be shown.
    var isFull: Bool { omitted > 0 || omittedValues > 0 || shown.utf8.count >= budget }

    /// The message, with the count of what was left out.
    var text: String {
        if omittedValues > 0 {
            return shown + "… (\(omitted) bytes and \(omittedValues) value\(omittedValues == 1 ? "" : "s") more)"
        }
        return omitted == 0 ? shown : shown + "… (\(omitted) bytes more)"
    }

    /// Counts a value after the cut that was not converted to text.
    mutating func omitValue() { omittedValues += 1 }

    /// Appends `bytes` (UTF-8, possibly invalid: each bad byte shows as U+FFFD) escaped, as far
    /// as the budget goes; reads at most about `budget` of them.
    mutating func append(bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count, omitted == 0, omittedValues == 0 {
            let lead = bytes[offset]
            var length = lead < 0x80 ? 1 : lead >= 0xF0 && lead < 0xF5 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 1
            if offset + length > bytes.count
                || !bytes[(offset + 1)..<(offset + length)].allSatisfy({ $0 & 0xC0 == 0x80 })
            {
                length = 1
            }
            let character = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]), as: UTF8.self)
            let piece = Diagnostics.escaped(character)
            guard shown.utf8.count + piece.utf8.count <= budget else { break }
            shown += piece
            offset += length
        }
        omitted += bytes.count - offset
    }

    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(bytes: UnsafeRawBufferPointer($0)) }
    }
}
