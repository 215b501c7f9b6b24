/// UTF-8 validity over raw bytes, without building a `String`: the check `String(validating:)`
/// makes (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), for hot paths that
/// only need the yes or no. Eight ASCII bytes are checked at a time.
package enum UTF8Validation {
    /// Whether `bytes` are valid UTF-8.
    package static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        while i < n {
            while i &+ 8 <= n, (base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i &+= 8 }
            guard i < n else { return true }
            let b0 = base.load(fromByteOffset: i, as: UInt8.self)
            if b0 < 0x80 {
                i &+= 1
                continue
            }
            guard let length = sequenceLength(at: i, of: bytes) else { return false }
            i &+= length
        }
        return true
    }

    /// The length of the valid multi-byte sequence starting at `i` (its first byte is 0x80 or
    /// more), or nil when it is not valid or is cut short.
    @inline(__always)
    static func sequenceLength(at i: Int, of bytes: UnsafeRawBufferPointer) -> Int? {
        let b0 = bytes[i]
        let length: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: (length, lowerBound) = (3, 0xA0)
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: (length, upperBound) = (3, 0x9F)
        case 0xF0: (length, lowerBound) = (4, 0x90)
        case 0xF1...0xF3: length = 4
        case 0xF4: (length, upperBound) = (4, 0x8F)
        default: return nil
        }
        guard bytes.count &- i >= length else { return nil }
        let b1 = bytes[i &+ 1]
        guard b1 >= lowerBound && b1 <= upperBound else { return nil }
        var k = 2
        while k < length {
            guard bytes[i &+ k] & 0xC0 == 0x80 else { return nil }
            k &+= 1
        }
        return length
    }
}
