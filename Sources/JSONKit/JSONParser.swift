/// A strict RFC 8259 parser: rejects invalid UTF-8, lone surrogates, control characters in
/// strings, trailing commas and trailing garbage, and nesting deeper than `maxDepth`.
///
/// Hand-written rather than Foundation's JSONSerialization because the hot path (one record in,
/// one Lua table out) needs integers kept as Int64, a direct push into Lua without an
/// intermediate tree, and byte offsets in errors.
public struct JSONParser {
    /// Deepest nesting of arrays and objects accepted; deeper input fails instead of exhausting the stack.
    public var maxDepth: Int
    @usableFromInline var scratch: [UInt8] = []
    @usableFromInline var base: UnsafePointer<UInt8> = UnsafePointer(bitPattern: 1)!
    @usableFromInline var end = 0
    @usableFromInline var position = 0

    /// A parser accepting up to `maxDepth` levels of nesting.
    public init(maxDepth: Int = 512) {
        self.maxDepth = maxDepth
        scratch.reserveCapacity(256)
    }

    /// Parses exactly one JSON value (surrounded by optional white space) from `input`.
    @inlinable
    public mutating func parse<B: JSONBuilder>(_ input: UnsafeRawBufferPointer, into builder: inout B) throws {
        guard let start = input.baseAddress, input.count > 0 else {
            throw JSONParseError(offset: 0, reason: "empty input, expected a value")
        }
        base = start.assumingMemoryBound(to: UInt8.self)
        end = input.count
        position = 0
        skipWhitespace()
        try parseValue(depth: 0, into: &builder)
        skipWhitespace()
        if position < end {
            throw error("unexpected \(describeByte(at: position)) after the value")
        }
    }

    @inlinable
    func error(_ reason: String) -> JSONParseError { JSONParseError(offset: position, reason: reason) }

    @inlinable
    func describeByte(at i: Int) -> String {
        guard i < end else { return "end of input" }
        let b = base[i]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16, uppercase: true))"
    }

    /// Inlined at every call: compact JSON has no white space, and one compare says so. Every
    /// white space byte is at most 0x20.
    @inlinable @inline(__always)
    mutating func skipWhitespace() {
        guard position < end, base[position] <= 0x20 else { return }
        skipWhitespaceRun()
    }

    @inlinable
    mutating func skipWhitespaceRun() {
        while position < end {
            let b = base[position]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position += 1 } else { return }
        }
    }

    @inlinable
    mutating func parseValue<B: JSONBuilder>(depth: Int, into builder: inout B) throws {
        guard position < end else { throw error("unexpected end of input, expected a value") }
        switch base[position] {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
            position += 1
            try builder.beginObject()
            skipWhitespace()
            if position < end && base[position] == UInt8(ascii: "}") {
                position += 1
                try builder.endObject()
                return
            }
            while true {
                skipWhitespace()
                guard position < end, base[position] == UInt8(ascii: "\"") else {
                    throw error("expected a string key, found \(describeByte(at: position))")
                }
                try parseString(isKey: true, into: &builder)
                skipWhitespace()
                guard position < end, base[position] == UInt8(ascii: ":") else {
                    throw error("expected ':' after an object key, found \(describeByte(at: position))")
                }
                position += 1
                skipWhitespace()
                try parseValue(depth: depth + 1, into: &builder)
                try builder.endMember()
                skipWhitespace()
                guard position < end else { throw error("unexpected end of input inside an object") }
                let b = base[position]
                position += 1
                if b == UInt8(ascii: ",") { continue }
                if b == UInt8(ascii: "}") { break }
                position -= 1
                throw error("expected ',' or '}' in an object, found \(describeByte(at: position))")
            }
            try builder.endObject()
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
            position += 1
            try builder.beginArray()
            skipWhitespace()
            if position < end && base[position] == UInt8(ascii: "]") {
                position += 1
                try builder.endArray()
                return
            }
            while true {
                skipWhitespace()
                try parseValue(depth: depth + 1, into: &builder)
                try builder.endElement()
                skipWhitespace()
                guard position < end else { throw error("unexpected end of input inside an array") }
                let b = base[position]
                position += 1
                if b == UInt8(ascii: ",") { continue }
                if b == UInt8(ascii: "]") { break }
                position -= 1
                throw error("expected ',' or ']' in an array, found \(describeByte(at: position))")
            }
            try builder.endArray()
        case UInt8(ascii: "\""):
            try parseString(isKey: false, into: &builder)
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            try builder.bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            try builder.bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            try builder.null()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try parseNumber(into: &builder)
        default:
            throw error("unexpected \(describeByte(at: position)), expected a value")
        }
    }

    @inlinable
    mutating func expectLiteral(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard end - position >= count, memcmpEqual(base + position, word.utf8Start, count) else {
            throw error("unexpected \(describeByte(at: position)), expected a value")
        }
        position += count
    }

    @inlinable
    func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        for i in 0..<n where a[i] != b[i] { return false }
        return true
    }

    @inlinable
    mutating func parseNumber<B: JSONBuilder>(into builder: inout B) throws {
        let start = position
        var negative = false
        if base[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        guard position < end, base[position] >= 0x30, base[position] <= 0x39 else {
            throw error("expected a digit after '-'")
        }
        var magnitude: UInt64 = 0
        var overflow = false
        if base[position] == 0x30 {
            position += 1
            if position < end, base[position] >= 0x30, base[position] <= 0x39 {
                throw error("numbers cannot have leading zeros")
            }
        } else {
            while position < end, base[position] >= 0x30, base[position] <= 0x39 {
                let digit = UInt64(base[position] &- 0x30)
                let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(digit)
                if o1 || o2 { overflow = true }
                magnitude = m2
                position += 1
            }
        }
        var isFloat = false
        // A float's digits as one integer (while they fit in 64 bits), and the power of ten to apply.
        var digits = magnitude
        var digitsFit = !overflow
        var powerOfTen = 0
        if position < end, base[position] == UInt8(ascii: ".") {
            isFloat = true
            position += 1
            guard position < end, base[position] >= 0x30, base[position] <= 0x39 else {
                throw error("expected a digit after '.'")
            }
            while position < end, base[position] >= 0x30, base[position] <= 0x39 {
                let (m1, o1) = digits.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(UInt64(base[position] &- 0x30))
                if o1 || o2 { digitsFit = false }
                digits = m2
                powerOfTen -= 1
                position += 1
            }
        }
        if position < end, base[position] | 0x20 == UInt8(ascii: "e") {
            isFloat = true
            position += 1
            var negativeExponent = false
            if position < end, base[position] == UInt8(ascii: "+") || base[position] == UInt8(ascii: "-") {
                negativeExponent = base[position] == UInt8(ascii: "-")
                position += 1
            }
            guard position < end, base[position] >= 0x30, base[position] <= 0x39 else {
                throw error("expected a digit in the exponent")
            }
            var exponent = 0
            while position < end, base[position] >= 0x30, base[position] <= 0x39 {
                if exponent < 100_000 { exponent = exponent * 10 + Int(base[position] &- 0x30) }
                position += 1
            }
            powerOfTen += negativeExponent ? -exponent : exponent
        }
        if !isFloat {
            if !overflow {
                if negative {
                    if magnitude <= UInt64(Int64.max) + 1 {
                        try builder.integer(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
                        return
                    }
                } else if magnitude <= UInt64(Int64.max) {
                    try builder.integer(Int64(magnitude))
                    return
                }
            }
            // Beyond 64 bits: the digits as written, never a rounded float.
            do {
                try builder.bigInteger(UnsafeRawBufferPointer(start: base + start, count: position - start))
            } catch let error as JSONParseError where error.offset == 0 {
                throw JSONParseError(offset: start, reason: error.reason)
            }
            return
        }
        // Clinger's fast path: digits of at most 53 bits and a power of ten of at most 22 are both
        // exact doubles, so one multiplication or division rounds exactly as reading the text does.
        if digitsFit, digits <= 1 << 53, powerOfTen >= -22, powerOfTen <= 22 {
            var scale = 1.0
            for _ in 0..<powerOfTen.magnitude { scale *= 10 }  // exact: 10^22 fits in 53 bits times 2^22
            let value = powerOfTen < 0 ? Double(digits) / scale : Double(digits) * scale
            try builder.double(negative ? -value : value)
            return
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: position - start), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw JSONParseError(offset: start, reason: "number \(text) is out of range")
        }
        try builder.double(value)
    }

    @inlinable
    mutating func parseString<B: JSONBuilder>(isKey: Bool, into builder: inout B) throws {
        position += 1  // opening quote
        let start = position
        let base = self.base, end = self.end
        // Fast path: no escapes. The position is kept in a local while plain bytes go by.
        var p = position
        while p < end {
            // Eight plain ASCII bytes at a time; else straight to the first byte that is not.
            if end &- p >= 8 {
                let bits = JSONByteScan.specialOrNonASCIIBits(UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self))
                if bits == 0 {
                    p &+= 8
                    continue
                }
                p &+= bits.trailingZeroBitCount &>> 3
            }
            let b = base[p]
            if b == UInt8(ascii: "\"") {
                let bytes = UnsafeRawBufferPointer(start: base + start, count: p - start)
                position = p + 1
                if isKey { try builder.key(bytes) } else { try builder.string(bytes) }
                return
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 {
                position = p
                throw error(
                    "control character in a string (escape it as \\u00\(b < 16 ? "0" : "")\(String(b, radix: 16)))")
            }
            if b < 0x80 {
                p += 1
            } else {
                position = p
                try validateUTF8Sequence()
                p = position
            }
        }
        position = p
        guard position < end else {
            throw JSONParseError(offset: start - 1, reason: "unterminated string")
        }
        // Slow path: copy into scratch while unescaping.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + start, count: position - start))
        while position < end {
            let b = base[position]
            if b == UInt8(ascii: "\"") {
                position += 1
                try scratch.withUnsafeBytes { bytes in
                    if isKey { try builder.key(bytes) } else { try builder.string(bytes) }
                }
                return
            }
            if b == UInt8(ascii: "\\") {
                try parseEscape()
            } else if b < 0x20 {
                throw error("control character in a string")
            } else if b < 0x80 {
                scratch.append(b)
                position += 1
            } else {
                let s = position
                try validateUTF8Sequence()
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + s, count: position - s))
            }
        }
        throw JSONParseError(offset: start - 1, reason: "unterminated string")
    }

    @inlinable
    mutating func parseEscape() throws {
        position += 1
        guard position < end else { throw error("unterminated escape") }
        let c = base[position]
        position += 1
        switch c {
        case UInt8(ascii: "\""): scratch.append(0x22)
        case UInt8(ascii: "\\"): scratch.append(0x5C)
        case UInt8(ascii: "/"): scratch.append(0x2F)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4()
            if scalar >= 0xD800 && scalar < 0xDC00 {
                guard end - position >= 6, base[position] == UInt8(ascii: "\\"), base[position + 1] == UInt8(ascii: "u")
                else { throw error("lone surrogate \\u\(String(scalar, radix: 16)) in a string") }
                position += 2
                let low = try readHex4()
                guard low >= 0xDC00 && low < 0xE000 else { throw error("invalid surrogate pair in a string") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                throw error("lone surrogate \\u\(String(scalar, radix: 16)) in a string")
            }
            appendUTF8(scalar)
        default:
            position -= 1
            throw error("invalid escape \\\(describeByte(at: position))")
        }
    }

    @inlinable
    mutating func readHex4() throws -> UInt32 {
        guard end - position >= 4 else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = base[position]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid hex digit in a \\u escape")
            }
            v = v << 4 | d
            position += 1
        }
        return v
    }

    @inlinable
    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case ..<0x80: scratch.append(UInt8(scalar))
        case ..<0x800:
            scratch.append(UInt8(0xC0 | (scalar >> 6)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        case ..<0x10000:
            scratch.append(UInt8(0xE0 | (scalar >> 12)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (scalar >> 18)))
            scratch.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    /// Checks one multi-byte UTF-8 sequence at `position` (RFC 3629: no overlongs, no surrogates,
    /// nothing past U+10FFFF) and moves past it.
    @inlinable
    mutating func validateUTF8Sequence() throws {
        switch UTF8Validation.sequence(at: position, in: base, end: end) {
        case .valid(let length): position += length
        case .invalidLeadByte:
            throw error("invalid UTF-8 byte 0x\(String(base[position], radix: 16, uppercase: true))")
        case .truncated: throw error("truncated UTF-8 sequence")
        case .invalidContinuation: throw error("invalid UTF-8 sequence")
        }
    }
}

extension JSONParser {
    /// Throws where `bytes` is not one valid JSON value; builds nothing.
    public static func validate(_ bytes: [UInt8], maxDepth: Int = 512) throws(JSONParseError) {
        var parser = JSONParser(maxDepth: maxDepth)
        var builder = JSONValidatingBuilder()
        do {
            try bytes.withUnsafeBytes { try parser.parse($0, into: &builder) }
        } catch let error as JSONParseError {
            throw error
        } catch {
            throw JSONParseError(offset: 0, reason: "\(error)")
        }
    }
}
