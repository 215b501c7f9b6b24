import JSONKit

/// Where each top-level member's value lies in the text of a JSON object, so that `test --update`
/// can copy a fixture's input members byte for byte while it rewrites the expectation.
enum FixtureMemberSpans {
    /// The members of the object `text` holds, in document order, each with the byte range of its
    /// value. `text` must already have parsed as a JSON object.
    static func scan(_ text: [UInt8]) -> [(key: String, value: Range<Int>)] {
        var scanner = Scanner(text: text)
        return scanner.members()
    }

    private struct Scanner {
        let text: [UInt8]
        var i = 0

        mutating func members() -> [(key: String, value: Range<Int>)] {
            var members: [(key: String, value: Range<Int>)] = []
            skipSpace()
            guard i < text.count, text[i] == UInt8(ascii: "{") else { return [] }
            i += 1
            while true {
                skipSpace()
                guard i < text.count, text[i] == UInt8(ascii: "\"") else { return members }
                let keyRange = skipString()
                let key = (try? JSONValue(parsing: text[keyRange]))?.stringValue ?? ""
                skipSpace()
                i += 1  // the ':'
                skipSpace()
                let start = i
                skipValue()
                members.append((key: key, value: start..<i))
                skipSpace()
                guard i < text.count, text[i] == UInt8(ascii: ",") else { return members }
                i += 1
            }
        }

        mutating func skipSpace() {
            while i < text.count, [0x20, 0x0A, 0x0D, 0x09].contains(text[i]) { i += 1 }
        }

        /// Skips the string starting at `i` (its opening quote) and returns its range.
        mutating func skipString() -> Range<Int> {
            let start = i
            i += 1
            while i < text.count {
                switch text[i] {
                case UInt8(ascii: "\\"): i += 2
                case UInt8(ascii: "\""):
                    i += 1
                    return start..<i
                default: i += 1
                }
            }
            return start..<i
        }

        /// Skips the value starting at `i`.
        mutating func skipValue() {
            guard i < text.count else { return }
            switch text[i] {
            case UInt8(ascii: "\""):
                _ = skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while i < text.count {
                    switch text[i] {
                    case UInt8(ascii: "\""):
                        _ = skipString()
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
                    default: break
                    }
                    i += 1
                    if depth == 0 { return }
                }
            default:
                // A number or a literal runs to the next delimiter.
                while i < text.count,
                    ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09].contains(text[i])
                {
                    i += 1
                }
            }
        }
    }
}
