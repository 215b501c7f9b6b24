/// ISO 8601 dates as Encharge reads them (`2020-03-06T14:24:03Z`, `2020-03-06T14:24:03.522Z`),
/// made from epoch seconds, epoch milliseconds or a date string, optionally read with a
/// `strptime`-like format and in a named time zone. Pure arithmetic on the proleptic Gregorian
/// calendar: no Foundation, no locale; zones come from `ZoneInfo`.
public enum EnchargeDate {
    /// Epoch values at or above this magnitude are read as milliseconds (1e11 s is the year 5138).
    public static let millisecondThreshold: Double = 1e11

    /// Formats a Unix time in milliseconds: `.mmm` only when there are milliseconds.
    public static func format(epochMilliseconds ms: Int64) -> String {
        format(epochMilliseconds: ms, alwaysWithMilliseconds: false)
    }

    /// Formats a Unix time in milliseconds; with `alwaysWithMilliseconds`, `.000` is written too, so
    /// every stamp has the same width (dead-letter `at`).
    package static func format(epochMilliseconds ms: Int64, alwaysWithMilliseconds: Bool) -> String {
        String(unsafeUninitializedCapacity: formattedMaxBytes) { out in
            format(epochMilliseconds: ms, alwaysWithMilliseconds: alwaysWithMilliseconds, into: out)
        }
    }

    /// The most bytes `format(epochMilliseconds:alwaysWithMilliseconds:into:)` writes: a sign, 20
    /// year digits and 20 more for the rest.
    package static let formattedMaxBytes = 48

    /// Writes what `format(epochMilliseconds:alwaysWithMilliseconds:)` returns into `out` (room
    /// for `formattedMaxBytes`) and answers how many bytes it wrote; for a caller that copies the
    /// text on (`encharge.iso8601` into Lua, once per record in a typical rule) without a `String`.
    package static func format(
        epochMilliseconds ms: Int64, alwaysWithMilliseconds: Bool, into out: UnsafeMutableBufferPointer<UInt8>
    ) -> Int {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let millis = Int(ms - seconds * 1000)
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = Int(seconds - days * 86400)
        let (y, m, d) = civilFromDays(days)
        var i = 0
        func put(_ byte: UInt8) {
            out[i] = byte
            i += 1
        }
        func put(_ value: Int, width: Int) {
            var divisor = 1
            var digits = 1
            while divisor <= value / 10 {
                divisor *= 10
                digits += 1
            }
            while digits < width {
                put(UInt8(ascii: "0"))
                digits += 1
            }
            var rest = value
            while divisor > 0 {
                put(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        if y < 0 || y > 9999 { put(y < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+")) }
        put(Int(y.magnitude), width: 4)
        put(UInt8(ascii: "-"))
        put(m, width: 2)
        put(UInt8(ascii: "-"))
        put(d, width: 2)
        put(UInt8(ascii: "T"))
        put(secondOfDay / 3600, width: 2)
        put(UInt8(ascii: ":"))
        put(secondOfDay / 60 % 60, width: 2)
        put(UInt8(ascii: ":"))
        put(secondOfDay % 60, width: 2)
        if millis != 0 || alwaysWithMilliseconds {
            put(UInt8(ascii: "."))
            put(millis, width: 3)
        }
        put(UInt8(ascii: "Z"))
        return i
    }

    /// Reads an epoch number: seconds, or milliseconds when at or above `millisecondThreshold`.
    public static func epochMilliseconds(fromEpoch value: Double) -> Int64? {
        guard value.isFinite, abs(value) < 1e15 else { return nil }
        let ms = abs(value) >= millisecondThreshold ? value : value * 1000
        return Int64(ms.rounded())
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` (or a space for `T`), with `Z`, `±HH:MM`,
    /// `±HHMM` or no zone (read as UTC); a string of digits is an epoch number.
    public static func epochMilliseconds(parsing text: String) -> Int64? {
        try? epochMilliseconds(parsing: text, format: nil, zone: nil)
    }

    /// Reads a date string. Without `format`: an epoch number or ISO 8601 as above. With `format`:
    /// `strptime`-like directives (see `WallClock.parse(_:format:)`). A date that states its offset
    /// (`Z`, `+02:00`, `%z`) is read with it; a date without one is wall-clock time in `zone`, or
    /// UTC when no zone is given.
    public static func epochMilliseconds(
        parsing text: String, format: String?, zone: ZoneInfo?
    ) throws(DateReadError) -> Int64 {
        let wall: WallClock
        if let format {
            wall = try WallClock.parse(text, format: format)
        } else {
            let b = Array(text.utf8.drop { $0 == 0x20 }.reversed().drop { $0 == 0x20 }.reversed())
            if !b.isEmpty,
                b.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }),
                !b.dropFirst().contains(UInt8(ascii: "-")), let value = Double(String(decoding: b, as: UTF8.self))
            {
                guard let ms = epochMilliseconds(fromEpoch: value) else {
                    throw DateReadError(description: "\(value) is not a usable epoch time")
                }
                return ms
            }
            guard let parsed = isoWallClock(b) else {
                throw DateReadError(
                    description:
                        "cannot read '\(text.prefix(60))' as a date (give epoch seconds, epoch milliseconds or an ISO 8601 string like 2020-03-06T14:24:03Z, or pass a format)"
                )
            }
            wall = parsed
        }
        let seconds: Int64
        if let offset = wall.offsetSeconds {
            seconds = wall.localSeconds - Int64(offset)
        } else if let zone {
            seconds = zone.utcSeconds(fromLocal: wall.localSeconds)
        } else {
            seconds = wall.localSeconds
        }
        return seconds * 1000 + Int64(wall.milliseconds)
    }

    /// The ISO 8601 forms `epochMilliseconds(parsing:)` reads, as wall-clock time.
    static func isoWallClock(_ b: [UInt8]) -> WallClock? {
        guard !b.isEmpty else { return nil }
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            i += n
            return v
        }
        func expect(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
            (1...12).contains(month), day >= 1, day <= daysInMonth(year, month)
        else { return nil }
        var hour = 0, minute = 0, second = 0, millis = 0
        var offsetMinutes: Int?
        if i < b.count {
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == 0x20 else { return nil }
            i += 1
            guard let h = digits(2), expect(":"), let mi = digits(2), h < 24, mi < 60 else { return nil }
            hour = h
            minute = mi
            if expect(":") {
                guard let s = digits(2), s <= 60 else { return nil }
                second = min(s, 59)
                if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
                    i += 1
                    var scale = 100
                    var count = 0
                    while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                        millis += Int(b[i] - 0x30) * scale
                        scale /= 10
                        count += 1
                        i += 1
                    }
                    guard count > 0 else { return nil }
                }
            }
            if i < b.count {
                if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                    offsetMinutes = 0
                    i += 1
                } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                    let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let oh = digits(2) else { return nil }
                    _ = expect(":")
                    let om = digits(2) ?? 0
                    guard oh < 24, om < 60 else { return nil }
                    offsetMinutes = sign * (oh * 60 + om)
                } else {
                    return nil
                }
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(Int64(year), month, day)
        return WallClock(
            localSeconds: days * 86400 + Int64(hour * 3600 + minute * 60 + second), milliseconds: millis,
            offsetSeconds: offsetMinutes.map { $0 * 60 })
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int64, _ month: Int, _ day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ days: Int64) -> (Int64, Int, Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
