/// Writes compact or pretty JSON into a byte buffer. Output is deterministic: object members come
/// in the order given (JSONObject keeps them sorted), floats in their shortest round-trip form with
/// a fraction or exponent so they read back as floats, non-ASCII text as raw UTF-8.
public struct JSONWriter {
    /// The JSON text written so far, UTF-8.
    public var bytes: [UInt8]
    /// Indent nested values by two spaces, one member or element a line.
    public var pretty: Bool
    @usableFromInline var depth = 0

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256, pretty: Bool = false) {
        bytes = []
        bytes.reserveCapacity(capacity)
        self.pretty = pretty
    }

    /// Appends `value`: object members in their (sorted) order, integers exactly, doubles shortest round-trip.
    @inlinable
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: writeRaw("null")
        case .bool(let b): writeRaw(b ? "true" : "false")
        case .integer(let i): writeInteger(i)
        case .bigInteger(let digits): bytes.append(contentsOf: digits.utf8)
        case .double(let d): writeDouble(d)
        case .string(let s): writeString(s)
        case .array(let elements):
            if elements.isEmpty { writeRaw("[]"); return }
            bytes.append(UInt8(ascii: "["))
            depth += 1
            for (i, element) in elements.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                newline()
                write(element)
            }
            depth -= 1
            newline()
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty { writeRaw("{}"); return }
            bytes.append(UInt8(ascii: "{"))
            depth += 1
            var first = true
            for member in object.members {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                newline()
                writeString(member.key)
                bytes.append(UInt8(ascii: ":"))
                if pretty { bytes.append(UInt8(ascii: " ")) }
                write(member.value)
            }
            depth -= 1
            newline()
            bytes.append(UInt8(ascii: "}"))
        }
    }

    @inlinable
    mutating func newline() {
        guard pretty else { return }
        bytes.append(0x0A)
        for _ in 0..<depth { bytes.append(0x20); bytes.append(0x20) }
    }

    /// Appends `s` as it is; the caller makes sure it is valid JSON in its place.
    @inlinable
    public mutating func writeRaw(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends `value` in decimal.
    @inlinable
    public mutating func writeInteger(_ value: Int64) {
        if value == 0 { bytes.append(0x30); return }
        var magnitude = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes, room for 20 digits
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                buffer[23 - count] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
                magnitude /= 10
                count += 1
            }
            bytes.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// Shortest round-trip text; integral values keep a ".0" so they decode as floats again.
    /// Callers reject NaN and infinities before writing (JSON has no spelling for them).
    @inlinable
    public mutating func writeDouble(_ value: Double) {
        precondition(value.isFinite, "JSON cannot represent \(value)")
        bytes.append(contentsOf: value.description.utf8)
    }

    /// Appends `s` as a JSON string literal (see `writeString(utf8:)`).
    @inlinable
    public mutating func writeString(_ s: String) {
        var s = s
        s.withUTF8 { writeString(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Writes valid UTF-8 as a JSON string literal, escaping quotes, backslashes and controls.
    @inlinable
    public mutating func writeString(utf8: UnsafeRawBufferPointer) {
        if utf8.count <= JSONWriter.shortString, !JSONWriter.needsEscaping(utf8) {
            writeShortLiteral(utf8, before: 0, after: 0)
            return
        }
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        var i = 0
        let n = utf8.count
        while i < n {
            if i &+ 8 <= n, !JSONByteScan.hasSpecialByte(utf8.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                i &+= 8
                continue
            }
            let b = utf8[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                i += 1
                continue
            }
            if runStart < i { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart..<i])) }
            switch b {
            case 0x22: writeRaw("\\\"")
            case 0x5C: writeRaw("\\\\")
            case 0x0A: writeRaw("\\n")
            case 0x0D: writeRaw("\\r")
            case 0x09: writeRaw("\\t")
            case 0x08: writeRaw("\\b")
            case 0x0C: writeRaw("\\f")
            default:
                let hex: StaticString = "0123456789abcdef"
                writeRaw("\\u00")
                bytes.append(hex.utf8Start[Int(b >> 4)])
                bytes.append(hex.utf8Start[Int(b & 0xF)])
            }
            i += 1
            runStart = i
        }
        if runStart < n { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart..<n])) }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension JSONWriter {
    /// Strings up to this many bytes are written with one append (see `writeShortLiteral`).
    @usableFromInline static let shortString = 240

    /// Writes `,"key":` (the comma unless `first`), compact: the start of an object member.
    @inlinable
    public mutating func writeMemberKey(utf8 key: UnsafeRawBufferPointer, first: Bool) {
        writeMemberKey(utf8: key, first: first, needsNoEscaping: false)
    }

    /// Writes `,"key":` as `writeMemberKey(utf8:first:)` does; with `needsNoEscaping`, the caller
    /// knows the key has no byte to escape, and it is not scanned for one.
    @inlinable
    package mutating func writeMemberKey(utf8 key: UnsafeRawBufferPointer, first: Bool, needsNoEscaping: Bool) {
        if key.count <= JSONWriter.shortString, needsNoEscaping || !JSONWriter.needsEscaping(key) {
            writeShortLiteral(key, before: first ? 0 : UInt8(ascii: ","), after: UInt8(ascii: ":"))
            return
        }
        if !first { bytes.append(UInt8(ascii: ",")) }
        writeString(utf8: key)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes `,"key":"value"` (the comma unless `first`) with a single append and answers true
    /// when the key needs no escaping and the value is plain ASCII (see `isPlainASCII`), both
    /// short; else writes nothing and answers false. The key must be valid UTF-8. Most members of
    /// an event are such a pair: one append instead of two halves the appends' uniqueness and
    /// capacity checks and `memcpy` calls for them. With `keyNeedsNoEscaping` the key is not scanned.
    @inlinable
    package mutating func writeMemberIfPlain(
        key: UnsafeRawBufferPointer, string value: UnsafeRawBufferPointer, first: Bool, keyNeedsNoEscaping: Bool = false
    ) -> Bool {
        guard key.count <= JSONWriter.shortString, value.count <= JSONWriter.shortString,
            JSONWriter.isPlainASCII(value), keyNeedsNoEscaping || !JSONWriter.needsEscaping(key)
        else { return false }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * JSONWriter.shortString + 6) { buffer in
            let base = buffer.baseAddress!
            var n = 0
            if !first {
                base[0] = UInt8(ascii: ",")
                n = 1
            }
            base[n] = UInt8(ascii: "\"")
            n &+= 1
            if let source = key.baseAddress {
                UnsafeMutableRawPointer(base + n).copyMemory(from: source, byteCount: key.count)
            }
            n &+= key.count
            base[n] = UInt8(ascii: "\"")
            base[n &+ 1] = UInt8(ascii: ":")
            base[n &+ 2] = UInt8(ascii: "\"")
            n &+= 3
            if let source = value.baseAddress {
                UnsafeMutableRawPointer(base + n).copyMemory(from: source, byteCount: value.count)
            }
            n &+= value.count
            base[n] = UInt8(ascii: "\"")
            n &+= 1
            bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: n))
        }
        return true
    }

    /// Writes `utf8` as a JSON string literal if it is valid UTF-8 and answers true; answers false
    /// and writes nothing if it is not. Short plain ASCII text with nothing to escape (most text)
    /// is checked in one pass for both, instead of one pass per question.
    @inlinable
    package mutating func writeStringIfValidUTF8(_ utf8: UnsafeRawBufferPointer) -> Bool {
        if utf8.count <= JSONWriter.shortString, JSONWriter.isPlainASCII(utf8) {
            writeShortLiteral(utf8, before: 0, after: 0)
            return true
        }
        guard UTF8Validation.isValid(utf8) else { return false }
        writeString(utf8: utf8)
        return true
    }

    /// Whether every byte of `utf8` is ASCII that a JSON string literal holds as is (no quote,
    /// backslash or control character): such text is valid UTF-8 and needs no escaping.
    @inlinable
    static func isPlainASCII(_ utf8: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = utf8.count
        while i &+ 8 <= n {
            let word = utf8.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if word & JSONByteScan.highs != 0 || JSONByteScan.hasSpecialByte(word) { return false }
            i &+= 8
        }
        while i < n {
            let b = utf8[i]
            if b >= 0x80 || b < 0x20 || b == 0x22 || b == 0x5C { return false }
            i &+= 1
        }
        return true
    }

    /// Whether `utf8` holds a byte a JSON string literal cannot hold as is.
    @inlinable
    static func needsEscaping(_ utf8: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = utf8.count
        while i &+ 8 <= n {
            if JSONByteScan.hasSpecialByte(utf8.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { return true }
            i &+= 8
        }
        while i < n {
            let b = utf8[i]
            if b < 0x20 || b == 0x22 || b == 0x5C { return true }
            i &+= 1
        }
        return false
    }

    /// Appends `before` (unless 0), `"text"` and `after` (unless 0) with a single append: each
    /// append of an array checks that its buffer is unique, a call that costs more than a
    /// short key's bytes. `text` needs no escaping and has at most `shortString` bytes.
    @inlinable
    mutating func writeShortLiteral(_ text: UnsafeRawBufferPointer, before: UInt8, after: UInt8) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: JSONWriter.shortString + 4) { buffer in
            var n = 0
            if before != 0 {
                buffer[0] = before
                n = 1
            }
            buffer[n] = UInt8(ascii: "\"")
            n &+= 1
            if let source = text.baseAddress {
                UnsafeMutableRawPointer(buffer.baseAddress! + n).copyMemory(from: source, byteCount: text.count)
            }
            n &+= text.count
            buffer[n] = UInt8(ascii: "\"")
            n &+= 1
            if after != 0 {
                buffer[n] = after
                n &+= 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<n]))
        }
    }
}

extension JSONValue {
    /// Compact (or pretty) JSON text with sorted keys.
    public func encoded(pretty: Bool = false) -> String {
        var writer = JSONWriter(pretty: pretty)
        writer.write(self)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
