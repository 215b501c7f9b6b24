/// Text for people, made safe to print: a line for stderr, a value escaped.
///
/// Every line is capped at `maxLineBytes` and has its control characters other than newline and
/// tab escaped, so no message can move the cursor, recolour the terminal or hide text. Values a
/// record, a request or a rule chose go through `escaped(_:)` at the call site, which escapes
/// newlines too, so such a value can never start a line that looks like the tool's own.
package enum Diagnostics {
    /// The longest line written; the rest is replaced by `… (N bytes more)`.
    package static let maxLineBytes = 4096

    /// `line` as it is written: escaped (keeping its layout), capped, ending in one newline.
    package static func line(_ line: String) -> String {
        let body = line.hasSuffix("\n") ? String(line.dropLast()) : line
        return capped(escaped(body, keepingLayout: true)) + "\n"
    }

    /// `text` with every control character shown as an escape: `\n`, `\r`, `\t`, `\0`, and
    /// `\u001b` for ESC and the rest of C0, DEL and C1. With `keepingLayout`, newline and tab stay
    /// as they are (for the tool's own multi-line messages, such as a traceback).
    package static func escaped(_ text: some StringProtocol, keepingLayout: Bool = false) -> String {
        let scalars = text.unicodeScalars
        guard scalars.contains(where: { needsEscape($0, keepingLayout: keepingLayout) }) else { return String(text) }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in scalars {
            guard needsEscape(scalar, keepingLayout: keepingLayout) else {
                result.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\0": result += "\\0"
            default:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            }
        }
        return result
    }

    private static func needsEscape(_ scalar: Unicode.Scalar, keepingLayout: Bool) -> Bool {
        let value = scalar.value
        if keepingLayout && (scalar == "\n" || scalar == "\t") { return false }
        return value < 0x20 || (0x7F...0x9F).contains(value)
    }

    /// `text` cut to at most `limit` bytes of UTF-8 (at a character boundary) followed by
    /// `… (N bytes more)` naming what was left out; shorter text is returned as is. The same cut
    /// as `cappedForDiagnostics`, so a message cut before keeps one marker with the whole count.
    package static func capped(_ text: String, limit: Int = maxLineBytes) -> String {
        text.cappedForDiagnostics(maxBytes: limit)
    }
}
