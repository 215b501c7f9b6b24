import EnchargeRules
import SystemKit

extension OutputWriter {
    /// Writes `line` as the tool writes every diagnostic: control characters escaped (newline and
    /// tab kept), capped at `Diagnostics.maxLineBytes`, ending in one newline.
    func writeDiagnosticLine(_ line: String) {
        write(Diagnostics.capped(Diagnostics.escaped(line, keepingLayout: true)) + "\n")
    }
}
