import LuaKit
import SystemKit

/// Unknown names in the tables a rule is given answer with an error at the rule's line instead
/// of `nil` (which would fail later as `attempt to call a nil value`):
/// `encharge.identfy does not exist; did you mean encharge.identify?`, and the parts of Lua the
/// sandbox removes say so: `io is not available in rules (sandbox)`.
extension RuleEngine {
    /// The host's modules: an unknown field is an error with a suggestion.
    static let strictModules = ["encharge", "json", "log", "webhook", "crypto"]
    /// Standard globals the sandbox removes.
    static let sandboxRemovedGlobals: Set<String> = ["io", "debug", "dofile", "loadfile", "package", "collectgarbage"]
    /// `os` functions the sandbox removes (it keeps time, date, clock and difftime).
    static let sandboxRemovedOSFunctions: Set<String> = [
        "execute", "exit", "remove", "rename", "tmpname", "getenv", "setlocale",
    ]

    func installStrictModules() {
        for module in Self.strictModules + ["os"] {
            guard state.getGlobal(module) == .table else {
                state.pop()
                continue
            }
            let removed = module == "os" ? Self.sandboxRemovedOSFunctions : []
            state.newTable(fieldCount: 1)
            state.push(function: { state in
                // __index(t, k): only ever called for a key the table lacks.
                guard let key = state.string(at: 2) else {
                    state.pushNil()
                    return 1
                }
                if removed.contains(key) { throw LuaRaise("\(module).\(key) is not available in rules (sandbox)") }
                let known = state.stringKeys(ofTableAt: 1)
                throw LuaRaise(Self.unknownFieldMessage(module: module, field: key, known: known))
            })
            state.rawSetField("__index", in: -2)
            state.setMetatable(ofTableAt: -2)
            state.pop()
        }
        // Reading a removed global raises; any other missing global still reads as nil. In Lua, not
        // Swift, so a rule that tests an unset global (`if DEBUG then`) per record pays no more than
        // a Lua call.
        let removed = Self.sandboxRemovedGlobals.sorted().map { "[\"\($0)\"] = true" }.joined(separator: ", ")
        let chunk = """
            local removed = { \(removed) }
            return function(_, name)
              if removed[name] then error(name .. " is not available in rules (sandbox)", 2) end
            end
            """
        state.getGlobal("_G")
        state.newTable(fieldCount: 1)
        do {
            try state.load(Array(chunk.utf8), chunkName: "=sandbox")
            try state.call(arguments: 0, results: 1)
            state.rawSetField("__index", in: -2)
            state.setMetatable(ofTableAt: -2)
        } catch {
            // A fixed chunk of a few lines: it compiles and runs, or the state is out of memory
            // at creation, which the first call of the rule reports anyway.
        }
        state.top = 0
    }

    /// Problems `check` finds by reading the rule's source (unknown module fields, removed
    /// functions), as `rules.lua:LINE: error: ...` lines.
    package func sourceProblems() -> [String] {
        let source: [UInt8]
        if let given = options.source {
            source = given
        } else if let read = try? FileReader.read(options.rulesPath) {
            source = read
        } else {
            return []
        }
        var modules: [String: Set<String>] = [:]
        for module in Self.strictModules + ["os"] {
            if state.getGlobal(module) == .table { modules[module] = Set(state.stringKeys(ofTableAt: -1)) }
            state.pop()
        }
        return RuleSourceLint.problems(
            in: source, path: options.rulesPath, modules: modules, removedOS: Self.sandboxRemovedOSFunctions,
            removedGlobals: Self.sandboxRemovedGlobals)
    }

    /// `encharge.identfy does not exist; did you mean encharge.identify?`, or the list of what
    /// the table has when nothing is close.
    static func unknownFieldMessage(module: String, field: String, known: [String]) -> String {
        let base = "\(module).\(field) does not exist"
        if let guess = closestName(to: field, among: known) { return "\(base); did you mean \(module).\(guess)?" }
        let names = known.sorted().map { "\(module).\($0)" }.joined(separator: ", ")
        return names.isEmpty ? base : "\(base) (there are \(names))"
    }

    /// The name nearest to `name` when it is a plausible typo (about one edit per three letters, or
    /// one name a prefix of the other), comparing without case; ties go to the alphabetically first.
    static func closestName(to name: String, among candidates: [String]) -> String? {
        var best: (name: String, distance: Int)?
        let lowered = name.lowercased()
        for candidate in candidates.sorted() {
            let other = candidate.lowercased()
            // One name spelt out or cut short of the other: log.warning for log.warn.
            if other.count >= 3, lowered.count >= 3, lowered.hasPrefix(other) || other.hasPrefix(lowered) {
                return candidate
            }
            let distance = EditDistance.between(lowered, other)
            if distance <= max(1, candidate.utf8.count / 3), distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.name
    }
}
