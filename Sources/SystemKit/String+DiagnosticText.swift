extension String {
    /// The text cut to at most `maxBytes` UTF-8 bytes (at a character boundary) followed by
    /// `… (N bytes more)`, or the text itself when it fits. Untrusted text (record values, rule
    /// messages) goes through this before it reaches a diagnostic or a dead-letter entry, so one
    /// record cannot flood the terminal or the file.
    ///
    /// N counts the bytes of the original text that are not shown: a `… (M bytes more)` marker in
    /// the part cut off (text cut before, by Lua or by an earlier cap) counts as its M bytes, so
    /// text cut twice still carries one marker with the whole count.
    package func cappedForDiagnostics(maxBytes: Int = 4096) -> String {
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
        var left = total - kept
        for marker in Self.cutMarkers(in: self[end...]) {
            left += marker.count - marker.text.utf8.count
        }
        return String(self[..<end]) + "… (\(left) bytes more)"
    }

    /// The `… (N bytes more)` markers in `text`, each with its N.
    private static func cutMarkers(in text: Substring) -> [(text: Substring, count: Int)] {
        var markers: [(text: Substring, count: Int)] = []
        var rest = text[...]
        while let open = rest.firstRange(of: "… (") {
            let digits = rest[open.upperBound...].prefix { $0.isASCII && $0.isNumber }
            if !digits.isEmpty, let count = Int(digits), rest[digits.endIndex...].hasPrefix(" bytes more)") {
                let close = rest.index(digits.endIndex, offsetBy: " bytes more)".count)
                markers.append((rest[open.lowerBound..<close], count))
                rest = rest[close...]
            } else {
                rest = rest[open.upperBound...]
            }
        }
        return markers
    }
}
