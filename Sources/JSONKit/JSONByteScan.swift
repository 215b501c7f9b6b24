/// Word-at-a-time tests over eight bytes of JSON text (SWAR), so that string scanning in the
/// parser and the writer moves eight plain bytes per step instead of one.
@usableFromInline
enum JSONByteScan {
    @usableFromInline static let ones: UInt64 = 0x0101_0101_0101_0101
    @usableFromInline static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether any of the eight bytes of `word` is a quote, a backslash or a control character
    /// (below 0x20): a byte a JSON string literal cannot hold as is. Exact (no false answers).
    @inlinable @inline(__always)
    static func hasSpecialByte(_ word: UInt64) -> Bool {
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        // (x - 0x01..) & ~x has a high bit set exactly where some byte of x is zero; with 0x20..
        // instead of 0x01.., where some byte is below 0x20 (for bytes under 0x80; ~x clears the rest).
        let control = (word &- ones &* 0x20) & ~word
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        return (control | zeroQuote | zeroBackslash) & highs != 0
    }

    /// The high bits of the bytes of `word` (eight bytes as loaded from memory) that are a quote,
    /// a backslash, a control character or not ASCII (0x80 and up); zero when there are none.
    /// The lowest set bit is exact, so `trailingZeroBitCount / 8` is the offset of the first such
    /// byte; a byte after it may be marked wrongly (a borrow carries into it).
    @inlinable @inline(__always)
    static func specialOrNonASCIIBits(_ word: UInt64) -> UInt64 {
        let word = UInt64(littleEndian: word)  // the first byte in the lowest bits
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let control = (word &- ones &* 0x20) & ~word
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        return (control | zeroQuote | zeroBackslash | word) & highs
    }
}
