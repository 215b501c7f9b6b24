/// Reads a rule's source, without running it, for uses of names that do not exist: a field of a
/// host module that is not there (`encharge.identfy`), a function the sandbox removes
/// (`os.execute`, `io.open`, `dofile`). `check` reports them as `rules.lua:LINE: error: ...`.
///
/// A small Lua tokenizer (strings, long strings, comments and numbers are skipped correctly)
/// and an approximate scope tracker: a module name declared `local` (or as a parameter or loop
/// variable) in an enclosing block is not the module, and a field assigned anywhere in the file
/// (`encharge.helper = ...`, `function json.pretty() ... end`) exists.
struct RuleSourceLint {
    struct Token {
        enum Kind { case name, keyword, symbol, literal }
        var kind: Kind
        var text: String
        var line: Int
        /// A string literal's text between its quotes, as written (escapes are not decoded).
        var value: String? = nil
    }

    static let keywords: Set<String> = [
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in", "local",
        "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    ]

    /// The chunk's tokens; nil when the text does not tokenize (the compiler reports that).
    static func tokens(_ source: [UInt8]) -> [Token]? {
        var tokens: [Token] = []
        var i = 0
        var line = 1
        let n = source.count
        func isNameStart(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        /// At `[`: the level of a long bracket (`[[` is 0, `[==[` is 2), or nil.
        func longBracketLevel(at start: Int) -> Int? {
            var j = start + 1
            var level = 0
            while j < n, source[j] == UInt8(ascii: "=") {
                level += 1
                j += 1
            }
            return j < n && source[j] == UInt8(ascii: "[") ? level : nil
        }
        /// Skips a long bracket opened at `start`; false if it never closes.
        func skipLong(at start: Int, level: Int) -> Bool {
            var j = start + level + 2
            while j < n {
                if source[j] == 0x0A { line += 1 }
                if source[j] == UInt8(ascii: "]") {
                    var k = j + 1
                    var count = 0
                    while k < n, source[k] == UInt8(ascii: "="), count < level {
                        count += 1
                        k += 1
                    }
                    if count == level, k < n, source[k] == UInt8(ascii: "]") {
                        i = k + 1
                        return true
                    }
                }
                j += 1
            }
            return false
        }
        if n >= 1, source[0] == UInt8(ascii: "#") {  // a shebang line
            while i < n, source[i] != 0x0A { i += 1 }
        }
        while i < n {
            let b = source[i]
            if b == 0x0A {
                line += 1
                i += 1
                continue
            }
            if b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0B || b == 0x0C {
                i += 1
                continue
            }
            if b == UInt8(ascii: "-"), i + 1 < n, source[i + 1] == UInt8(ascii: "-") {
                if i + 2 < n, source[i + 2] == UInt8(ascii: "["), let level = longBracketLevel(at: i + 2) {
                    guard skipLong(at: i + 2, level: level) else { return nil }
                } else {
                    while i < n, source[i] != 0x0A { i += 1 }
                }
                continue
            }
            if isNameStart(b) {
                let start = i
                while i < n, isNameStart(source[i]) || isDigit(source[i]) { i += 1 }
                let text = String(decoding: source[start..<i], as: UTF8.self)
                tokens.append(Token(kind: keywords.contains(text) ? .keyword : .name, text: text, line: line))
                continue
            }
            if isDigit(b) || (b == UInt8(ascii: ".") && i + 1 < n && isDigit(source[i + 1])) {
                while i < n {
                    let c = source[i]
                    if isDigit(c) || isNameStart(c) || c == UInt8(ascii: ".") {
                        let exponent =
                            c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "p")
                            || c == UInt8(ascii: "P")
                        i += 1
                        if exponent, i < n, source[i] == UInt8(ascii: "+") || source[i] == UInt8(ascii: "-") { i += 1 }
                    } else {
                        break
                    }
                }
                tokens.append(Token(kind: .literal, text: "0", line: line))
                continue
            }
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                let startLine = line
                let start = i
                i += 1
                var closed = false
                while i < n {
                    let c = source[i]
                    if c == b {
                        i += 1
                        closed = true
                        break
                    }
                    if c == 0x0A { return nil }
                    if c == UInt8(ascii: "\\"), i + 1 < n {
                        if source[i + 1] == 0x0A { line += 1 }
                        i += 2
                        continue
                    }
                    i += 1
                }
                guard closed else { return nil }
                let value = String(decoding: source[(start + 1)..<(i - 1)], as: UTF8.self)
                tokens.append(Token(kind: .literal, text: "\"\"", line: startLine, value: value))
                continue
            }
            if b == UInt8(ascii: "["), let level = longBracketLevel(at: i) {
                let startLine = line
                guard skipLong(at: i, level: level) else { return nil }
                tokens.append(Token(kind: .literal, text: "\"\"", line: startLine))
                continue
            }
            // Symbols: the two- and three-character ones that matter here, else one character.
            var length = 1
            for symbol in ["...", "..", "==", "~=", "<=", ">=", "::", "//", "<<", ">>"]
            where i + symbol.utf8.count <= n && source[i..<i + symbol.utf8.count].elementsEqual(symbol.utf8) {
                length = symbol.utf8.count
                break
            }
            tokens.append(
                Token(kind: .symbol, text: String(decoding: source[i..<i + length], as: UTF8.self), line: line))
            i += length
        }
        return tokens
    }

    /// The problems in `source`, as `path:LINE: error: ...` lines. `modules` maps each host module
    /// to the fields it has after loading; `removedOS` and `removedGlobals` are what the sandbox
    /// takes away.
    static func problems(
        in source: [UInt8], path: String, modules: [String: Set<String>], removedOS: Set<String>,
        removedGlobals: Set<String>
    ) -> [String] {
        guard let tokens = tokens(source) else { return [] }
        var modules = modules
        // Fields the file itself defines anywhere count as existing, and a module the file
        // assigns as a whole (`json = require "dkjson"`) is the rule's own.
        var reassigned: Set<String> = []
        for k in tokens.indices where tokens[k].kind == .name && modules[tokens[k].text] != nil {
            let previous = k > 0 ? tokens[k - 1].text : ""
            if previous == "." || previous == ":" { continue }
            if k + 1 < tokens.count, tokens[k + 1].text == "=" {
                // `local json = ...` is a local and `{ json = 1 }` a table key, not the global.
                if previous != "local" && previous != "{" && previous != "," { reassigned.insert(tokens[k].text) }
            } else if k + 3 < tokens.count, tokens[k + 1].text == "." || tokens[k + 1].text == ":",
                tokens[k + 2].kind == .name,
                tokens[k + 3].text == "=" || tokens[k + 3].text == "(" && previous == "function"
            {
                modules[tokens[k].text]!.insert(tokens[k + 2].text)
            }
        }

        var problems: [String] = []
        var scopes: [Set<String>] = [[]]
        var pendingLocals: Set<String> = []
        func isLocal(_ name: String) -> Bool { scopes.contains { $0.contains(name) } }
        func report(_ line: Int, _ message: String) {
            let text = "\(path):\(line): error: \(message)"
            if !problems.contains(text) { problems.append(text) }
        }

        var k = 0
        while k < tokens.count {
            let token = tokens[k]
            let previous = k > 0 ? tokens[k - 1].text : ""
            let next = k + 1 < tokens.count ? tokens[k + 1].text : ""
            switch (token.kind, token.text) {
            case (.keyword, "local"):
                var j = k + 1
                if j < tokens.count, tokens[j].text == "function" {
                    if j + 1 < tokens.count { scopes[scopes.count - 1].insert(tokens[j + 1].text) }
                } else {
                    // local a <const>, b = ...
                    while j < tokens.count, tokens[j].kind == .name {
                        scopes[scopes.count - 1].insert(tokens[j].text)
                        j += 1
                        if j + 2 < tokens.count, tokens[j].text == "<" { j += 3 }
                        guard j < tokens.count, tokens[j].text == "," else { break }
                        j += 1
                    }
                }
            case (.keyword, "function"):
                // Parameters belong to the function's own scope.
                var j = k + 1
                while j < tokens.count, tokens[j].text != "(" { j += 1 }
                var parameters: Set<String> = []
                if k + 3 < tokens.count, tokens[k + 2].text == ":" || (j > 0 && tokens[j - 2].text == ":") {
                    parameters.insert("self")
                }
                j += 1
                while j < tokens.count, tokens[j].text != ")" {
                    if tokens[j].kind == .name { parameters.insert(tokens[j].text) }
                    j += 1
                }
                scopes.append(parameters)
            case (.keyword, "for"):
                var j = k + 1
                while j < tokens.count, tokens[j].text != "=" && tokens[j].text != "in" {
                    if tokens[j].kind == .name { pendingLocals.insert(tokens[j].text) }
                    j += 1
                }
            case (.keyword, "do"):
                scopes.append(pendingLocals)
                pendingLocals = []
            case (.keyword, "if"), (.keyword, "repeat"):
                scopes.append([])
            case (.keyword, "else"), (.keyword, "elseif"):
                scopes[scopes.count - 1] = []
            case (.keyword, "end"), (.keyword, "until"):
                if scopes.count > 1 { scopes.removeLast() }
            case (.name, let name):
                if previous == "." || previous == ":" || previous == "::" || previous == "goto" || isLocal(name) {
                    break
                }
                if removedGlobals.contains(name), next != "=" {
                    var shown = name
                    if next == ".", k + 2 < tokens.count, tokens[k + 2].kind == .name {
                        shown += "." + tokens[k + 2].text
                    }
                    report(token.line, "\(shown) is not available in rules (sandbox)")
                } else if let fields = modules[name], !reassigned.contains(name), next == "." || next == ":",
                    k + 2 < tokens.count, tokens[k + 2].kind == .name
                {
                    let field = tokens[k + 2].text
                    if name == "os", removedOS.contains(field) {
                        report(token.line, "os.\(field) is not available in rules (sandbox)")
                    } else if !fields.contains(field) {
                        report(
                            token.line, RuleEngine.unknownFieldMessage(module: name, field: field, known: Array(fields))
                        )
                    }
                }
            default:
                break
            }
            k += 1
        }
        return problems
    }
}
