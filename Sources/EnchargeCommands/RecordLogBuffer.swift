import SystemKit

/// Where one `run --jobs` worker's engine writes its `log.*` lines: kept per record, so that the
/// reading thread writes them to stderr in input order with the rest of that record's output.
final class RecordLogBuffer: OutputWriter, @unchecked Sendable {
    // Invariant: written and taken only by the worker thread that owns the engine writing here.
    private var text = ""

    func write(_ text: String) { self.text += text }

    /// What was written since the last call.
    func take() -> String {
        defer { text = "" }
        return text
    }
}
