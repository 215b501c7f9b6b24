/// Text as PostgreSQL stores it: a `text` value cannot hold U+0000, which a response body, a rule's
/// error or a header may carry; it becomes U+FFFD so the row is stored rather than the batch failing.
enum PostgresText {
    static func safe(_ text: String) -> String {
        guard text.utf8.contains(0) else { return text }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { scalars.append(scalar.value == 0 ? "\u{FFFD}" : scalar) }
        return String(scalars)
    }
}
