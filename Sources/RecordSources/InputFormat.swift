/// The formats `run` reads.
package enum InputFormat: String, Sendable, CaseIterable {
    /// One JSON object per line (`.jsonl`, `.ndjson`).
    case jsonl
    /// One JSON object, or an array of objects (`.json`).
    case json
    /// A header row, then one record per row; empty cells are absent (`.csv`).
    case csv

    /// The format a file name implies, or nil.
    package init?(path: String) {
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") {
            self = .jsonl
        } else if lower.hasSuffix(".json") {
            self = .json
        } else if lower.hasSuffix(".csv") {
            self = .csv
        } else {
            return nil
        }
    }
}
