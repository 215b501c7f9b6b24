import Foundation
import SystemKit

extension RuleEngine {
    /// Globals the per-record and per-request functions assign, read from the rule's source
    /// (`HandlerGlobalsLint`); an assignment the sample run also reported as undeclared is then
    /// dropped from `warnings`, so each shows once.
    package func handlerGlobalWarnings() -> [String] {
        guard let source = options.source ?? (try? FileReader.read(options.rulesPath)) else { return [] }
        let found = HandlerGlobalsLint.assignments(in: source)
        warnings.removeAll { warning in
            // `rules.lua:4: warning: assignment to undeclared global 'x' ...`, where Lua shortens a
            // long path to `...end/of/rules.lua`.
            guard let range = warning.range(of: ": warning: assignment to undeclared global '"),
                let colon = warning[..<range.lowerBound].lastIndex(of: ":"),
                let line = Int(warning[warning.index(after: colon)..<range.lowerBound])
            else { return false }
            let file = warning[..<colon]
            let sameFile =
                file.hasPrefix("...") ? options.rulesPath.hasSuffix(file.dropFirst(3)) : file == options.rulesPath
            let name = warning[range.upperBound...].prefix { $0 != "'" }
            return sameFile && found.contains { $0.line == line && $0.name == name }
        }
        return found.map { $0.warning(path: options.rulesPath) }
    }
}
