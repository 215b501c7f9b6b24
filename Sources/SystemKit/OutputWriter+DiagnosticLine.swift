extension OutputWriter {
    /// Writes `line` as the tool writes every diagnostic: control characters escaped (newline and
    /// tab kept), capped at `Diagnostics.maxLineBytes`, ending in one newline.
    package func writeDiagnosticLine(_ line: String) {
        write(Diagnostics.line(line))
    }
}
