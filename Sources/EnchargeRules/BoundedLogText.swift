import SystemKit

/// The message of one `log.*` line: at most `budget` bytes of escaped text, then
/// `… (N bytes more)` counting the bytes of the values left out, which are never read, and
/// `… (N bytes and M values more)` once tables after the cut were not even converted.
struct BoundedLogText {
    private(set) var shown = ""
    private var omitted = 0
    private var omittedValues = 0
    let budget: Int

    init(budget: Int) { self.budget = max(budget, 0) }

    /// Whether anything was left out, so nothing more will be shown.
    var isFull: Bool { omitted > 0 || omittedValues > 0 || shown.utf8.count >= budget }

    /// The message, with the count of what was left out.
    var text: String {
        if omittedValues > 0 {
            return shown + "… (\(omitted) bytes and \(omittedValues) value\(omittedValues == 1 ? "" : "s") more)"
        }
        return omitted == 0 ? shown : shown + "… (\(omitted) bytes more)"
    }

    /// Counts a value after the cut that was not converted to text.
    mutating func omitValue() { omittedValues += 1 }

    /// Appends `bytes` (UTF-8, possibly invalid: each bad byte shows as U+FFFD) escaped, as far
    /// as the budget goes; reads at most about `budget` of them.
    mutating func append(bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count, omitted == 0, omittedValues == 0 {
            let lead = bytes[offset]
            var length = lead < 0x80 ? 1 : lead >= 0xF0 && lead < 0xF5 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 1
            if offset + length > bytes.count
                || !bytes[(offset + 1)..<(offset + length)].allSatisfy({ $0 & 0xC0 == 0x80 })
            {
                length = 1
            }
            let character = String(
                decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]), as: UTF8.self)
            let piece = Diagnostics.escaped(character)
            guard shown.utf8.count + piece.utf8.count <= budget else { break }
            shown += piece
            offset += length
        }
        omitted += bytes.count - offset
    }

    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(bytes: UnsafeRawBufferPointer($0)) }
    }
}
