import LuaKit

extension RuleEngine {
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
                        let position =
                            state.position(level: 1).map { "\($0.source):\($0.line)" } ?? self.options.rulesPath
                        let warning =
                            "\(position): warning: assignment to undeclared global '\(name)' (declare it with 'local', or at the top level of the file)"
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
