extension JSONDiff {
    /// Whether two numbers denote the same value, whatever their spelling (`1`, `1.0`, a 64-bit
    /// integer or one kept as digits); nil when either value is not a number.
    static func sameNumber(_ a: JSONValue, _ b: JSONValue) -> Bool? {
        switch (a, b) {
        case (.integer(let x), .integer(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.integer(let x), .double(let y)), (.double(let y), .integer(let x)): return Int64(exactly: y) == x
        case (.bigInteger(let x), .bigInteger(let y)): return x == y
        case (.bigInteger(let digits), .integer(let x)), (.integer(let x), .bigInteger(let digits)):
            return Int64(digits) == x
        case (.bigInteger(let digits), .double(let y)), (.double(let y), .bigInteger(let digits)):
            return exactIntegerDigits(of: y) == digits
        default: return nil
        }
    }

    /// The decimal digits of an integral float, exactly (with `-` when negative); nil for a
    /// fraction. `1e19` gives `10000000000000000000`, not a rounded spelling.
    static func exactIntegerDigits(of value: Double) -> String? {
        guard value.isFinite, value == value.rounded(.towardZero) else { return nil }
        if let small = Int64(exactly: value) { return String(small) }
        // |value| >= 2^63: an integer significand times a power of two, multiplied out in base 10^9.
        let significand = UInt64(1) << 52 | value.significandBitPattern
        var shift = Int(value.exponent) - 52
        let base: UInt64 = 1_000_000_000
        var limbs: [UInt64] = [significand % base, significand / base % base, significand / base / base]
        while shift > 0 {
            let step = min(shift, 29)
            var carry: UInt64 = 0
            for k in limbs.indices {
                let product = limbs[k] << UInt64(step) + carry
                limbs[k] = product % base
                carry = product / base
            }
            while carry > 0 {
                limbs.append(carry % base)
                carry /= base
            }
            shift -= step
        }
        while limbs.count > 1 && limbs.last == 0 { limbs.removeLast() }
        var text = value < 0 ? "-" : ""
        text += String(limbs[limbs.count - 1])
        for limb in limbs.dropLast().reversed() {
            let digits = String(limb)
            text += String(repeating: "0", count: 9 - digits.count) + digits
        }
        return text
    }
}
