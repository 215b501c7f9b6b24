extension String {
    /// The text cut to at most `maxBytes` UTF-8 bytes (at a character boundary) followed by
    /// `… (N bytes more)`, or the text itself when it fits. Untrusted text (record values, rule
    /// messages) goes through this before it reaches a diagnostic or a dead-letter entry, so one
    /// record cannot flood the terminal or the file.
    public func cappedForDiagnostics(maxBytes: Int = 4096) -> String {
        let total = utf8.count
        guard total > maxBytes else { return self }
        var kept = 0
        var end = startIndex
        for character in self {
            let size = character.utf8.count
            guard kept + size <= maxBytes else { break }
            kept += size
            end = index(after: end)
        }
        return String(self[..<end]) + "… (\(total - kept) bytes more)"
    }
}
