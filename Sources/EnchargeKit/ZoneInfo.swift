import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// Why a time zone cannot be used: an invalid name, no such zone in the database, an unreadable
/// or malformed zone file.
public struct ZoneInfoError: Error, CustomStringConvertible, Sendable {
    /// Which zone could not be read, and why.
    public let description: String
}

/// The UTC offsets of one time zone through history, read from the system's tz database (the
/// TZif files under `/usr/share/zoneinfo`, RFC 8536) without touching the process's `TZ`. Times
/// past the file's last transition follow its POSIX TZ footer (`CET-1CEST,M3.5.0,M10.5.0/3`).
public struct ZoneInfo: Sendable {
    /// Where zone files are read from: `$TZDIR`, else `/usr/share/zoneinfo`.
    public static var defaultDirectory: String {
        if let dir = getenv("TZDIR"), dir.pointee != 0 { return String(cString: dir) }
        return "/usr/share/zoneinfo"
    }

    /// The zone's name as given (`Europe/Berlin`, `UTC`, `+02:00`).
    public let name: String
    /// Transition instants (Unix seconds), ascending.
    let transitions: [Int64]
    /// The offset (seconds east of UTC) from each transition on.
    let offsets: [Int32]
    /// The offset before the first transition.
    let initialOffset: Int32
    /// The rule after the last transition, when the file has one.
    let footer: PosixTimeZoneRule?

    /// A zone with one offset for all time (`UTC`, `+05:30`).
    public init(name: String, fixedOffsetSeconds offset: Int) {
        self.name = name
        transitions = []
        offsets = []
        initialOffset = Int32(offset)
        footer = nil
    }

    /// `UTC`, `Z`, a fixed offset (`+02:00`, `-0530`) or a tz database name (`Europe/Berlin`).
    public static func named(_ name: String, directory: String = defaultDirectory) throws(ZoneInfoError) -> ZoneInfo {
        if name == "UTC" || name == "Z" || name == "GMT" { return ZoneInfo(name: name, fixedOffsetSeconds: 0) }
        if let offset = fixedOffset(name) { return ZoneInfo(name: name, fixedOffsetSeconds: offset) }
        let allowed =
            !name.isEmpty && !name.hasPrefix("/") && !name.contains("..")
            && name.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                    || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: "+")
                    || b == UInt8(ascii: "/")
            }
        guard allowed else {
            throw ZoneInfoError(
                description: "'\(name.prefix(60))' is not a time zone name (use one like Europe/Berlin, or +02:00)")
        }
        let path = directory + "/" + name
        guard let bytes = readZoneFile(path) else {
            throw ZoneInfoError(
                description:
                    "unknown time zone '\(name)': \(path) does not exist (use a tz database name like Europe/Berlin; install the tzdata package if none exist)"
            )
        }
        guard let zone = parse(tzif: bytes, name: name) else {
            throw ZoneInfoError(description: "\(path) is not a valid time zone file (TZif)")
        }
        return zone
    }

    /// `+02:00`, `-0530`, `+05` as seconds east of UTC.
    static func fixedOffset(_ text: String) -> Int? {
        let b = Array(text.utf8)
        guard b.count >= 3, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-") else { return nil }
        let digits = b.dropFirst().filter { $0 != UInt8(ascii: ":") }
        guard digits.count == 2 || digits.count == 4, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        let v = digits.map { Int($0 - 0x30) }
        let hours = v[0] * 10 + v[1]
        let minutes = v.count == 4 ? v[2] * 10 + v[3] : 0
        guard hours <= 23, minutes <= 59 else { return nil }
        return (b[0] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
    }

    /// The offset from UTC, in seconds, in effect at the instant `t` (Unix seconds).
    public func offset(atUTC t: Int64) -> Int {
        guard let first = transitions.first, t >= first else { return Int(initialOffset) }
        if t >= transitions[transitions.count - 1], let footer { return footer.offset(atUTC: t) }
        // The last transition at or before t.
        var low = 0, high = transitions.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if transitions[mid] <= t { low = mid } else { high = mid - 1 }
        }
        return Int(offsets[low])
    }

    /// The instant (Unix seconds) of a wall-clock time in this zone, given as seconds since
    /// 1970-01-01T00:00 of that wall clock. A time that happens twice (clocks going back) is the
    /// first; one that never happens (clocks going forward) is read with the offset before the
    /// change, so `02:30` on a spring-forward night is `03:30` of the new offset.
    public func utcSeconds(fromLocal local: Int64) -> Int64 {
        let before = offset(atUTC: local - 2 * 86400)
        let candidates = Set([before, offset(atUTC: local), offset(atUTC: local + 2 * 86400)]).sorted(by: >)
        for candidate in candidates where offset(atUTC: local - Int64(candidate)) == candidate {
            return local - Int64(candidate)
        }
        return local - Int64(before)
    }

    // MARK: - TZif

    /// The zone file's bytes, or nil when it is missing, unreadable or 1 MiB or more (no real zone
    /// file comes near that).
    static func readZoneFile(_ path: String) -> [UInt8]? {
        try? FileReader.read(path, limit: (1 << 20) - 1)
    }

    /// Parses a TZif file (versions 1 to 4); the 64-bit block and the footer when present.
    static func parse(tzif b: [UInt8], name: String) -> ZoneInfo? {
        func be32(_ i: Int) -> Int64 {
            Int64(
                Int32(
                    bitPattern: UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])))
        }
        func be64(_ i: Int) -> Int64 { be32(i) << 32 | (be32(i + 4) & 0xFFFF_FFFF) }
        func header(at i: Int) -> (isut: Int, isstd: Int, leap: Int, time: Int, type: Int, char: Int)? {
            guard i + 44 <= b.count, b[i..<i + 4].elementsEqual("TZif".utf8) else { return nil }
            let c = (0..<6).map { Int(be32(i + 20 + 4 * $0)) }
            guard c.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else { return nil }
            return (c[0], c[1], c[2], c[3], c[4], c[5])
        }
        guard let h1 = header(at: 0) else { return nil }
        let version = b[4]
        var at = 44
        var h = h1
        var timeSize = 4
        if version >= UInt8(ascii: "2") {
            at += h1.time * 5 + h1.type * 6 + h1.char + h1.leap * 8 + h1.isstd + h1.isut
            guard let h2 = header(at: at) else { return nil }
            h = h2
            at += 44
            timeSize = 8
        }
        let end = at + h.time * (timeSize + 1) + h.type * 6 + h.char + h.leap * (timeSize + 4) + h.isstd + h.isut
        guard h.type > 0, end <= b.count else { return nil }
        var transitions: [Int64] = []
        transitions.reserveCapacity(h.time)
        for k in 0..<h.time { transitions.append(timeSize == 8 ? be64(at + 8 * k) : be32(at + 4 * k)) }
        let indexBase = at + h.time * timeSize
        let typeBase = indexBase + h.time
        var typeOffsets: [Int32] = []
        for k in 0..<h.type { typeOffsets.append(Int32(be32(typeBase + 6 * k))) }
        var offsets: [Int32] = []
        for k in 0..<h.time {
            let index = Int(b[indexBase + k])
            guard index < typeOffsets.count else { return nil }
            offsets.append(typeOffsets[index])
        }
        var footer: PosixTimeZoneRule?
        if version >= UInt8(ascii: "2"), end < b.count, b[end] == 0x0A,
            let close = b[(end + 1)...].firstIndex(of: 0x0A), close > end + 1
        {
            footer = PosixTimeZoneRule(String(decoding: b[(end + 1)..<close], as: UTF8.self))
        }
        return ZoneInfo(
            name: name, transitions: transitions, offsets: offsets, initialOffset: typeOffsets[0], footer: footer)
    }

    private init(name: String, transitions: [Int64], offsets: [Int32], initialOffset: Int32, footer: PosixTimeZoneRule?)
    {
        self.name = name
        self.transitions = transitions
        self.offsets = offsets
        self.initialOffset = initialOffset
        self.footer = footer
    }
}

/// A POSIX TZ rule (`EST5EDT,M3.2.0,M11.1.0`, `<+0330>-3:30`): a standard offset and, optionally,
/// a daylight offset with the yearly rules for when it starts and ends.
struct PosixTimeZoneRule: Sendable {
    /// A yearly date: `Jn` (1...365, no Feb 29), `n` (0...365) or `Mm.w.d`.
    enum Day: Sendable {
        case julianNoLeap(Int)
        case zeroBased(Int)
        case monthWeekDay(month: Int, week: Int, weekday: Int)
    }

    /// Seconds east of UTC.
    var standardOffset: Int
    var daylight: (offset: Int, start: Day, startTime: Int, end: Day, endTime: Int)?

    init?(_ text: String) {
        var p = Array(text.utf8)[...]
        func name() -> Bool {
            if p.first == UInt8(ascii: "<") {
                guard let close = p.firstIndex(of: UInt8(ascii: ">")) else { return false }
                p = p[(close + 1)...]
                return true
            }
            let n = p.prefix { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }.count
            p = p.dropFirst(n)
            return n >= 3
        }
        func number() -> Int? {
            let digits = p.prefix { $0 >= 0x30 && $0 <= 0x39 }
            guard !digits.isEmpty, digits.count <= 3 else { return nil }
            p = p.dropFirst(digits.count)
            return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        // [+-]hh[:mm[:ss]] in seconds, POSIX sign (west positive) left to the caller.
        func time() -> Int? {
            var sign = 1
            if p.first == UInt8(ascii: "+") {
                p = p.dropFirst()
            } else if p.first == UInt8(ascii: "-") {
                sign = -1
                p = p.dropFirst()
            }
            guard let h = number() else { return nil }
            var seconds = h * 3600
            if p.first == UInt8(ascii: ":") {
                p = p.dropFirst()
                guard let m = number() else { return nil }
                seconds += m * 60
                if p.first == UInt8(ascii: ":") {
                    p = p.dropFirst()
                    guard let s = number() else { return nil }
                    seconds += s
                }
            }
            return sign * seconds
        }
        func day() -> Day? {
            if p.first == UInt8(ascii: "M") {
                p = p.dropFirst()
                guard let m = number(), p.first == UInt8(ascii: ".") else { return nil }
                p = p.dropFirst()
                guard let w = number(), p.first == UInt8(ascii: ".") else { return nil }
                p = p.dropFirst()
                guard let d = number(), (1...12).contains(m), (1...5).contains(w), (0...6).contains(d) else {
                    return nil
                }
                return .monthWeekDay(month: m, week: w, weekday: d)
            }
            if p.first == UInt8(ascii: "J") {
                p = p.dropFirst()
                guard let n = number(), (1...365).contains(n) else { return nil }
                return .julianNoLeap(n)
            }
            guard let n = number(), n <= 365 else { return nil }
            return .zeroBased(n)
        }
        guard name(), let std = time() else { return nil }
        standardOffset = -std
        guard !p.isEmpty else {
            daylight = nil
            return
        }
        guard name() else { return nil }
        var dstOffset = standardOffset + 3600
        if let first = p.first, first != UInt8(ascii: ",") {
            guard let dst = time() else { return nil }
            dstOffset = -dst
        }
        guard p.first == UInt8(ascii: ",") else { return nil }
        p = p.dropFirst()
        guard let start = day() else { return nil }
        var startTime = 7200
        if p.first == UInt8(ascii: "/") {
            p = p.dropFirst()
            guard let t = time() else { return nil }
            startTime = t
        }
        guard p.first == UInt8(ascii: ",") else { return nil }
        p = p.dropFirst()
        guard let end = day() else { return nil }
        var endTime = 7200
        if p.first == UInt8(ascii: "/") {
            p = p.dropFirst()
            guard let t = time() else { return nil }
            endTime = t
        }
        guard p.isEmpty else { return nil }
        daylight = (dstOffset, start, startTime, end, endTime)
    }

    func offset(atUTC t: Int64) -> Int {
        guard let dst = daylight else { return standardOffset }
        let days =
            (t + Int64(standardOffset)) >= 0
            ? (t + Int64(standardOffset)) / 86400 : (t + Int64(standardOffset) - 86399) / 86400
        let (year, _, _) = EnchargeDate.civilFromDays(days)
        // Transitions are given in the local time in effect before them.
        let start = Self.dayNumber(dst.start, year: year) * 86400 + Int64(dst.startTime) - Int64(standardOffset)
        let end = Self.dayNumber(dst.end, year: year) * 86400 + Int64(dst.endTime) - Int64(dst.offset)
        let inDaylight = start < end ? (t >= start && t < end) : !(t >= end && t < start)
        return inDaylight ? dst.offset : standardOffset
    }

    /// Days since 1970-01-01 of `day` in `year`.
    static func dayNumber(_ day: Day, year: Int64) -> Int64 {
        let january1 = EnchargeDate.daysFromCivil(year, 1, 1)
        switch day {
        case .zeroBased(let n):
            return january1 + Int64(n)
        case .julianNoLeap(let n):
            let leapShift = EnchargeDate.isLeap(Int(year)) && n >= 60 ? 1 : 0
            return january1 + Int64(n - 1 + leapShift)
        case .monthWeekDay(let month, let week, let weekday):
            let first = EnchargeDate.daysFromCivil(year, month, 1)
            // 1970-01-01 was a Thursday (4).
            let firstWeekday = Int(((first % 7) + 7 + 4) % 7)
            var dayOfMonth = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
            let length = EnchargeDate.daysInMonth(Int(year), month)
            while dayOfMonth > length { dayOfMonth -= 7 }
            return first + Int64(dayOfMonth - 1)
        }
    }
}
