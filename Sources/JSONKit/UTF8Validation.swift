/// UTF-8 validity over raw bytes, without building a `String`: the check `String(validating:)`
/// makes (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), for hot paths that
/// only need the yes or no. Eight ASCII bytes are checked at a time.
@usableFromInline
package enum UTF8Validation {
    /// Whether `bytes` are valid UTF-8.
    @usableFromInline
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
            guard case .valid(let length) = sequence(at: i, in: base.assumingMemoryBound(to: UInt8.self), end: n)
            else { return false }
            i &+= length
        }
        return true
    }

    /// What a multi-byte UTF-8 sequence (its first byte 0x80 or more) turned out to be.
    @usableFromInline
    package enum Sequence {
        /// A valid sequence of this many bytes.
        case valid(length: Int)
        /// The first byte cannot start a sequence (a continuation byte, an overlong lead, past U+10FFFF).
        case invalidLeadByte
        /// The bytes end before the sequence does.
        case truncated
        /// A later byte is not the continuation byte the first one calls for.
        case invalidContinuation
    }

    /// Checks the multi-byte sequence starting at `base[i]` (a byte of 0x80 or more), reading no
    /// byte at or past `end`: RFC 3629, so no overlong forms, no surrogates, nothing past U+10FFFF.
    /// The one copy of the rule: the parser words its errors from the case, the validator above
    /// only needs the length.
    @inlinable @inline(__always)
    package static func sequence(at i: Int, in base: UnsafePointer<UInt8>, end: Int) -> Sequence {
        let length: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch base[i] {
        case 0xC2...0xDF: length = 2
        case 0xE0: (length, lowerBound) = (3, 0xA0)
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: (length, upperBound) = (3, 0x9F)
        case 0xF0: (length, lowerBound) = (4, 0x90)
        case 0xF1...0xF3: length = 4
        case 0xF4: (length, upperBound) = (4, 0x8F)
        default: return .invalidLeadByte
        }
        guard end &- i >= length else { return .truncated }
        let b1 = base[i &+ 1]
        guard b1 >= lowerBound && b1 <= upperBound else { return .invalidContinuation }
        var k = 2
        while k < length {
            guard base[i &+ k] & 0xC0 == 0x80 else { return .invalidContinuation }
            k &+= 1
        }
        return .valid(length: length)
    }
}
