import EnchargeRules
import SystemKit

/// Writes lines for people to a job's stderr writer, one write per line so lines from several
/// threads never mix.
///
/// Every line is capped at `Diagnostics.maxLineBytes` and has its control characters other than
/// newline and tab escaped, so no message can move the cursor, recolour the terminal or hide text.
/// Values a record, a request or a rule chose go through `Diagnostics.escaped(_:)` at the call
/// site, which escapes newlines too, so such a value can never start a line that looks like the
/// tool's own.
package struct DiagnosticsPrinter: Sendable {
    let writer: any OutputWriter

    package init(writer: any OutputWriter) { self.writer = writer }

    /// Writes one line (a trailing newline in `line` is not doubled).
    package func write(_ line: String) {
        writeRaw(Diagnostics.line(line))
    }

    /// Writes text as is (no newline added, nothing escaped), for the progress line.
    package func writeRaw(_ text: String) {
        writer.write(text)
    }
}
