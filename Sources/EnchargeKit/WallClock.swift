/// A date and time read from text, before a time zone makes it an instant.
struct WallClock: Sendable {
    /// Seconds since 1970-01-01T00:00 of the same wall clock.
    var localSeconds: Int64
    var milliseconds: Int
    /// The offset the text states (`Z`, `+02:00`), in seconds east of UTC; nil when it states none.
    var offsetSeconds: Int?

    static let monthNames = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december",
    ]
    static let weekdayNames = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    /// The directives `encharge.iso8601(s, { format = ... })` understands, for its messages.
    static let directives = "%Y %y %m %d %e %H %I %M %S %f %p %b %B %h %a %A %z %Z %j %T %F %D %%"

    /// Reads `text` with a `strptime`-like format. Directives: `%Y` year (4 digits, or more with a
    /// sign), `%y` two-digit year (69-99 → 19xx, 00-68 → 20xx), `%m` month, `%d`/`%e` day, `%H`
    /// hour (0-23), `%I` hour (1-12) with `%p` AM/PM, `%M` minute, `%S` second, `%f` fraction of
    /// a second (1-9 digits), `%b`/`%B`/`%h` English month name or abbreviation, `%a`/`%A` weekday
    /// name (read and ignored), `%j` day of the year, `%z` offset (`Z`, `+0200`, `+02:00`, `+02`),
    /// `%Z` `UTC`/`GMT`/`Z`, `%T` = `%H:%M:%S`, `%F` = `%Y-%m-%d`, `%D` = `%m/%d/%y`, `%%` a percent sign.
    /// Numbers take one or two digits where `strptime` allows it (`3/6/2020`). White space in the
    /// format matches any run of white space, including none; letters match in any case; every
    /// other character matches itself. Fields left out default to January 1st, 00:00:00.
    static func parse(_ text: String, format formatText: String) throws(DateReadError) -> WallClock {
        var format = Array(formatText.utf8)[...]
        // Expand the composite directives first.
        var expanded: [UInt8] = []
        while let c = format.first {
            format = format.dropFirst()
            guard c == UInt8(ascii: "%"), let d = format.first else {
                expanded.append(c)
                continue
            }
            format = format.dropFirst()
            switch d {
            case UInt8(ascii: "T"): expanded += Array("%H:%M:%S".utf8)
            case UInt8(ascii: "F"): expanded += Array("%Y-%m-%d".utf8)
            case UInt8(ascii: "D"): expanded += Array("%m/%d/%y".utf8)
            default: expanded += [c, d]
            }
        }
        let input = Array(text.utf8)
        var i = 0
        var year: Int64?, month: Int?, day: Int?, dayOfYear: Int?
        var hour = 0, hour12: Int?, minute = 0, second = 0, millis = 0
        var pm: Bool?
        var offset: Int?

        func mismatch() -> DateReadError {
            DateReadError(description: "'\(text.prefix(60))' does not match the format '\(formatText)'")
        }
        func number(maxDigits: Int, minDigits: Int = 1) -> Int? {
            var value = 0, count = 0
            while i < input.count, count < maxDigits, input[i] >= 0x30, input[i] <= 0x39 {
                value = value * 10 + Int(input[i] - 0x30)
                count += 1
                i += 1
            }
            return count >= minDigits ? value : nil
        }
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
        func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b + 32 : b }
        /// The index in `names` of a full name or its three-letter abbreviation at the input.
        func name(in names: [String]) -> Int? {
            for (index, full) in names.enumerated() {
                let full = Array(full.utf8)
                for candidate in [full, Array(full.prefix(3))] where i + candidate.count <= input.count {
                    if (0..<candidate.count).allSatisfy({ lower(input[i + $0]) == candidate[$0] }) {
                        i += candidate.count
                        return index
                    }
                }
            }
            return nil
        }

        var f = 0
        while f < expanded.count {
            let c = expanded[f]
            f += 1
            if isSpace(c) {
                while i < input.count, isSpace(input[i]) { i += 1 }
                continue
            }
            guard c == UInt8(ascii: "%") else {
                guard i < input.count, lower(input[i]) == lower(c) else { throw mismatch() }
                i += 1
                continue
            }
            guard f < expanded.count else {
                throw DateReadError(
                    description: "the format '\(formatText)' ends with a lone %; write %% for a percent sign")
            }
            let d = expanded[f]
            f += 1
            switch d {
            case UInt8(ascii: "Y"):
                var sign: Int64 = 1
                if i < input.count, input[i] == UInt8(ascii: "+") || input[i] == UInt8(ascii: "-") {
                    sign = input[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let v = number(maxDigits: 6, minDigits: 4) else { throw mismatch() }
                    year = sign * Int64(v)
                } else {
                    guard let v = number(maxDigits: 4, minDigits: 4) else { throw mismatch() }
                    year = Int64(v)
                }
            case UInt8(ascii: "y"):
                guard let v = number(maxDigits: 2, minDigits: 2) else { throw mismatch() }
                year = Int64(v < 69 ? 2000 + v : 1900 + v)
            case UInt8(ascii: "m"):
                guard let v = number(maxDigits: 2), (1...12).contains(v) else { throw mismatch() }
                month = v
            case UInt8(ascii: "d"), UInt8(ascii: "e"):
                while d == UInt8(ascii: "e"), i < input.count, input[i] == 0x20 { i += 1 }
                guard let v = number(maxDigits: 2), (1...31).contains(v) else { throw mismatch() }
                day = v
            case UInt8(ascii: "j"):
                guard let v = number(maxDigits: 3), (1...366).contains(v) else { throw mismatch() }
                dayOfYear = v
            case UInt8(ascii: "H"):
                guard let v = number(maxDigits: 2), v < 24 else { throw mismatch() }
                hour = v
            case UInt8(ascii: "I"):
                guard let v = number(maxDigits: 2), (1...12).contains(v) else { throw mismatch() }
                hour12 = v
            case UInt8(ascii: "M"):
                guard let v = number(maxDigits: 2), v < 60 else { throw mismatch() }
                minute = v
            case UInt8(ascii: "S"):
                guard let v = number(maxDigits: 2), v <= 60 else { throw mismatch() }
                second = min(v, 59)
            case UInt8(ascii: "f"):
                var scale = 100, count = 0
                while i < input.count, count < 9, input[i] >= 0x30, input[i] <= 0x39 {
                    millis += Int(input[i] - 0x30) * scale
                    scale /= 10
                    count += 1
                    i += 1
                }
                guard count > 0 else { throw mismatch() }
            case UInt8(ascii: "p"):
                guard i + 1 < input.count, lower(input[i + 1]) == UInt8(ascii: "m") else { throw mismatch() }
                switch lower(input[i]) {
                case UInt8(ascii: "a"): pm = false
                case UInt8(ascii: "p"): pm = true
                default: throw mismatch()
                }
                i += 2
            case UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "h"):
                guard let index = name(in: monthNames) else { throw mismatch() }
                month = index + 1
            case UInt8(ascii: "a"), UInt8(ascii: "A"):
                guard name(in: weekdayNames) != nil else { throw mismatch() }
            case UInt8(ascii: "z"):
                guard i < input.count else { throw mismatch() }
                if lower(input[i]) == UInt8(ascii: "z") {
                    offset = 0
                    i += 1
                    break
                }
                guard input[i] == UInt8(ascii: "+") || input[i] == UInt8(ascii: "-") else { throw mismatch() }
                let sign = input[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let h = number(maxDigits: 2, minDigits: 2), h < 24 else { throw mismatch() }
                if i < input.count, input[i] == UInt8(ascii: ":") { i += 1 }
                let m = number(maxDigits: 2, minDigits: 2) ?? 0
                guard m < 60 else { throw mismatch() }
                offset = sign * (h * 3600 + m * 60)
            case UInt8(ascii: "Z"):
                var matched = false
                for zone in ["utc", "gmt", "z"] where i + zone.utf8.count <= input.count {
                    if zone.utf8.enumerated().allSatisfy({ lower(input[i + $0.offset]) == $0.element }) {
                        i += zone.utf8.count
                        offset = 0
                        matched = true
                        break
                    }
                }
                guard matched else { throw mismatch() }
            case UInt8(ascii: "%"):
                guard i < input.count, input[i] == UInt8(ascii: "%") else { throw mismatch() }
                i += 1
            default:
                throw DateReadError(
                    description:
                        "the format '\(formatText)' has %\(String(decoding: [d], as: UTF8.self)), which encharge.iso8601 does not read (it reads \(directives))"
                )
            }
        }
        guard i == input.count else { throw mismatch() }
        guard let year else {
            throw DateReadError(description: "the format '\(formatText)' has no year; add %Y or %y")
        }
        if let hour12 {
            hour = hour12 % 12 + (pm == true ? 12 : 0)
        } else if pm == true, hour < 12 {
            hour += 12
        }
        let days: Int64
        if let dayOfYear, month == nil {
            guard dayOfYear <= (EnchargeDate.isLeap(Int(year)) ? 366 : 365) else { throw mismatch() }
            days = EnchargeDate.daysFromCivil(year, 1, 1) + Int64(dayOfYear - 1)
        } else {
            let month = month ?? 1, day = day ?? 1
            guard day <= EnchargeDate.daysInMonth(Int(year), month) else {
                throw DateReadError(
                    description: "'\(text.prefix(60))' is not a date: month \(month) of \(year) has no day \(day)")
            }
            days = EnchargeDate.daysFromCivil(year, month, day)
        }
        return WallClock(
            localSeconds: days * 86400 + Int64(hour * 3600 + minute * 60 + second), milliseconds: millis,
            offsetSeconds: offset)
    }
}
