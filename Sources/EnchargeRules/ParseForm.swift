/// `a=1&b=x%20y` → pairs (`+` is a space). A `%` not followed by two hex digits, or escapes that
/// decode to bytes that are not UTF-8, are errors: guessing would hand the rule U+FFFD or a
/// control character the sender never meant.
package func parseForm(_ body: [UInt8]) throws(FormDecodingError) -> [(String, String)] {
    func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    /// Printable ASCII as is, anything else as `\xNN`, so the message cannot carry control bytes.
    func visible(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { (0x21...0x7E).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
    }
    func decode(_ part: ArraySlice<UInt8>) throws(FormDecodingError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(part.count)
        var i = part.startIndex
        while i < part.endIndex {
            let b = part[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%") {
                guard i + 2 < part.endIndex, let high = hexValue(part[i + 1]), let low = hexValue(part[i + 2]) else {
                    let shown = visible(part[i..<min(part.endIndex, i + 3)])
                    throw FormDecodingError(
                        description:
                            "the form body has a bad percent-escape '\(shown)' at byte \(i); a % must be followed by two hex digits (write % itself as %25)"
                    )
                }
                out.append(high << 4 | low)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw FormDecodingError(
                description:
                    "the form field at byte \(part.startIndex) ('\(visible(part.prefix(48)))') decodes to bytes that are not UTF-8; percent-encode text as UTF-8"
            )
        }
        return text
    }
    var pairs: [(String, String)] = []
    for pair in body.split(separator: UInt8(ascii: "&")) where !pair.isEmpty {
        if let eq = pair.firstIndex(of: UInt8(ascii: "=")) {
            pairs.append((try decode(pair[pair.startIndex..<eq]), try decode(pair[(eq + 1)...])))
        } else {
            pairs.append((try decode(pair), ""))
        }
    }
    return pairs
}
