/// Byte-level checks for the address-like fields of an event: `user.email`, `user.ip` and
/// `sourceIp`. Hand-written over UTF-8 because they run for every event (no regex, no Foundation).
extension EventValidator {
    /// Looks like an address: exactly one `@`, a non-empty local part, a domain with a dot that
    /// neither starts nor ends with one and has no empty label, no white space or control characters.
    /// Deliberately loose beyond that (quoted local parts, IDNs): Encharge is the final judge.
    static func looksLikeEmailAddress(_ text: String) -> Bool {
        var text = text
        return text.withUTF8(looksLikeEmailAddress)
    }

    /// `looksLikeEmailAddress(_:)` of UTF-8 bytes.
    package static func looksLikeEmailAddress(_ bytes: UnsafeRawBufferPointer) -> Bool {
        looksLikeEmailAddress(bytes.assumingMemoryBound(to: UInt8.self))
    }

    private static func looksLikeEmailAddress(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var at = -1
        var lastDot = -1
        let n = bytes.count
        // Only four kinds of byte matter (controls and space, DEL, `@`, `.`); the rest are skipped
        // eight at a time. It runs twice per record on the hot path, where a byte-at-a-time switch
        // cost about 60 ns an address.
        var i = 0
        while i &+ 8 <= n {
            var special = emailSpecialBytes(UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self))
            while special != 0 {
                let position = i &+ special.trailingZeroBitCount / 8
                guard emailByte(bytes[position], at: position, atSign: &at, lastDot: &lastDot) else { return false }
                special &= special &- 1
            }
            i &+= 8
        }
        while i < n {
            guard emailByte(bytes[i], at: i, atSign: &at, lastDot: &lastDot) else { return false }
            i &+= 1
        }
        return at > 0 && lastDot > at + 1 && lastDot < n - 1
    }

    /// The high bit of each byte of `word` that is a control character or space, DEL, `@` or `.`
    /// (exact per byte: no carry crosses a byte).
    @inline(__always)
    static func emailSpecialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        // A byte below 0x21: its low seven bits plus 0x5F stay below 0x80, and its high bit is clear.
        let small = ~(((word & lows) &+ 0x5F &* ones) | word) & highs
        func equal(_ byte: UInt64) -> UInt64 {
            let x = word ^ (byte &* ones)
            return ~(((x & lows) &+ lows) | x) & highs
        }
        return small | equal(0x7F) | equal(UInt64(UInt8(ascii: "@"))) | equal(UInt64(UInt8(ascii: ".")))
    }

    /// One byte of `looksLikeEmailAddress` at `position`: false if it rules the address out.
    @inline(__always)
    private static func emailByte(_ byte: UInt8, at position: Int, atSign at: inout Int, lastDot: inout Int) -> Bool {
        switch byte {
        case 0...0x20, 0x7F:
            return false
        case UInt8(ascii: "@"):
            if at >= 0 { return false }
            at = position
        case UInt8(ascii: "."):
            if at >= 0 {
                // A dot right after the @ or right after another dot in the domain: an empty label.
                if position == at + 1 || position == lastDot + 1 { return false }
                lastDot = position
            }
        default:
            break
        }
        return true
    }

    /// IPv4 dotted-quad or IPv6 text (RFC 4291 §2.2, with an optional embedded IPv4 tail), as
    /// `inet_pton` accepts it: no zone ids, no brackets, no ports, no leading zeros in IPv4 parts.
    static func isIPAddress(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isIPAddress(UnsafeRawBufferPointer($0)) }
    }

    /// `isIPAddress(_:)` of UTF-8 bytes.
    package static func isIPAddress(_ raw: UnsafeRawBufferPointer) -> Bool {
        let bytes = raw.assumingMemoryBound(to: UInt8.self)
        if bytes.count < 2 || bytes.count > 45 { return false }
        return bytes.contains(UInt8(ascii: ":")) ? isIPv6(bytes) : isIPv4(bytes[...])
    }

    static func isIPv4(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        var parts = 0
        var digits = 0
        var value = 0
        var leadingZero = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if digits == 0 || parts == 3 { return false }
                parts += 1
                digits = 0
                value = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return false }
            if digits == 0 {
                leadingZero = byte == UInt8(ascii: "0")
            } else if leadingZero {
                return false
            }
            digits += 1
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            if digits > 3 || value > 255 { return false }
        }
        return parts == 3 && digits > 0
    }

    static func isIPv6(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = bytes.count
        let colon = UInt8(ascii: ":")
        var i = 0
        var groups = 0
        var compressed = false
        if bytes[0] == colon {
            guard bytes[1] == colon else { return false }
            compressed = true
            i = 2
            if i == n { return true }
        }
        while true {
            let pieceStart = i
            var digits = 0
            while i < n, digits <= 4, isHexDigit(bytes[i]) {
                i += 1
                digits += 1
            }
            if i < n, bytes[i] == UInt8(ascii: ".") {
                // An IPv4 tail fills the last two groups and must end the text.
                guard isIPv4(bytes[pieceStart..<n]) else { return false }
                groups += 2
                break
            }
            if digits == 0 || digits > 4 { return false }
            groups += 1
            if groups > 8 { return false }
            if i == n { break }
            guard bytes[i] == colon else { return false }
            i += 1
            if i == n { return false }  // a single trailing colon
            if bytes[i] == colon {
                if compressed { return false }
                compressed = true
                i += 1
                if i == n { break }
            }
        }
        return compressed ? groups <= 7 : groups == 8
    }

    @inline(__always)
    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            true
        default:
            false
        }
    }
}
