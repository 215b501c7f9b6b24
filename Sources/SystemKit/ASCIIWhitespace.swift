/// A set of ASCII white-space bytes to trim. Only ASCII bytes are ever trimmed, so trimming never
/// splits a character and never touches non-ASCII space such as U+00A0.
package enum ASCIIWhitespace: Sendable, Hashable {
    /// Space (0x20) and tab (0x09): HTTP's optional white space around header values and
    /// parameters (RFC 9110 §5.6.3), and CSV header cells.
    case spacesAndTabs
    /// Space (0x20) and 0x09-0x0D (tab, line feed, vertical tab, form feed, carriage return): C's
    /// `isspace` in the C locale, for values people type or paste (emails, tags, secrets in files,
    /// header values that still carry their CRLF).
    case all

    /// Whether `byte` belongs to this set.
    package func contains(_ byte: UInt8) -> Bool {
        switch self {
        case .spacesAndTabs: byte == 0x20 || byte == 0x09
        case .all: byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
        }
    }
}

extension StringProtocol {
    /// This text without leading and trailing bytes of `whitespace`.
    package func trimming(_ whitespace: ASCIIWhitespace) -> Substring {
        let text = Substring(self)
        let utf8 = text.utf8
        guard let start = utf8.firstIndex(where: { !whitespace.contains($0) }) else { return text[text.endIndex...] }
        let end = utf8.index(after: utf8.lastIndex(where: { !whitespace.contains($0) })!)
        // Both bounds sit next to an ASCII byte or at an end, so they are scalar boundaries.
        return text[start..<end]
    }
}
