import SystemKit

/// Removes the write key from text that could carry it back: libcurl's error messages and response
/// bodies (a server or proxy may echo request headers, upper-cased, or inside a base64 blob); and
/// secrets and signatures from `serve --trace` blocks.
///
/// Removed: the key in any ASCII case, its hex form (either case), and its base64 and base64url forms at each of the three byte
/// alignments (so a key base64-encoded inside a longer value, such as `Basic base64(user:key)`, is
/// found too). A body cut at its first bytes may end with only the start of one of these, so a
/// trailing prefix of 4 bytes or more is removed as well.
package struct SecretRedactor: Sendable {
    package static let replacement = "[redacted]"

    /// One form of the key to look for.
    private struct Needle: Sendable {
        var bytes: [UInt8]
        /// Compare ASCII letters without case (the key itself); base64 forms are case-sensitive.
        var ignoringCase: Bool
    }

    private let needles: [Needle]

    package init(secret: String) {
        let key = Array(secret.utf8)
        var needles: [Needle] = []
        if !key.isEmpty {
            needles.append(Needle(bytes: key.map(Self.lowercased), ignoringCase: true))
            // A server that logs or echoes headers as hex bytes (in either case).
            needles.append(Needle(bytes: Array(Hex.encode(key).utf8), ignoringCase: true))
        }
        // Inside a longer base64 text the key starts 0, 1 or 2 bytes into a 3-byte block. For each
        // alignment, keep only the characters whose 6 bits all come from the key.
        for offset in 0..<3 {
            let encoded = Array(Base64.encode(Array(repeating: 0, count: offset) + key).utf8)
            let start = (8 * offset + 5) / 6
            let end = 8 * (offset + key.count) / 6
            guard end - start >= 4 else { continue }
            let standard = Array(encoded[start..<end])
            needles.append(Needle(bytes: standard, ignoringCase: false))
            let url = standard.map { byte -> UInt8 in
                byte == UInt8(ascii: "+") ? UInt8(ascii: "-") : byte == UInt8(ascii: "/") ? UInt8(ascii: "_") : byte
            }
            if url != standard { needles.append(Needle(bytes: url, ignoringCase: false)) }
        }
        self.needles = needles
    }

    /// `text` with every form of the secret replaced by `[redacted]`.
    package func redact(_ text: String) -> String {
        guard !needles.isEmpty, !text.isEmpty else { return text }
        let bytes = Array(text.utf8)
        // Byte ranges to replace, found for every form of the key, then merged.
        var ranges: [Range<Int>] = []
        for needle in needles {
            var index = 0
            while index + needle.bytes.count <= bytes.count {
                if matches(needle, bytes, at: index, length: needle.bytes.count) {
                    ranges.append(index..<(index + needle.bytes.count))
                    index += needle.bytes.count
                } else {
                    index += 1
                }
            }
            // A cut-short tail: the longest prefix (4 bytes or more) of the needle that ends the text.
            var length = min(needle.bytes.count - 1, bytes.count)
            while length >= 4 {
                if matches(needle, bytes, at: bytes.count - length, length: length) {
                    ranges.append((bytes.count - length)..<bytes.count)
                    break
                }
                length -= 1
            }
        }
        guard !ranges.isEmpty else { return text }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var position = 0
        for range in ranges {
            if range.lowerBound >= position {
                result += bytes[position..<range.lowerBound]
                result += Self.replacement.utf8
                position = range.upperBound
            } else if range.upperBound > position {
                position = range.upperBound
            }
        }
        result += bytes[position...]
        return String(decoding: result, as: UTF8.self)
    }

    /// Whether `bytes[start..<start+length]` equals the first `length` bytes of the needle.
    private func matches(_ needle: Needle, _ bytes: [UInt8], at start: Int, length: Int) -> Bool {
        for offset in 0..<length {
            let byte = needle.ignoringCase ? Self.lowercased(bytes[start + offset]) : bytes[start + offset]
            if byte != needle.bytes[offset] { return false }
        }
        return true
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}
