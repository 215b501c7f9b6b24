import EnchargeKit

/// Opens (or checks the directory of) the dead-letter file before the first record, so an
/// unwritable path is a configuration error instead of a surprise at the first failure.
func prepareDeadLetters(_ deadLetters: DeadLetterWriter, diagnostics: DiagnosticsPrinter) -> Bool {
    do {
        try deadLetters.prepare()
        return true
    } catch {
        diagnostics.write(
            "error: cannot write the dead-letter file \(error.path): \(error.message); pass a writable --dead-letter PATH"
        )
        return false
    }
}
