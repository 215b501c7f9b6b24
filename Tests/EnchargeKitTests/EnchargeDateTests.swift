import Foundation
import Testing

@testable import EnchargeKit

/// Foundation's reading of an internet date-time, in epoch milliseconds, as an independent oracle.
func foundationMilliseconds(_ text: String) -> Int64? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions =
        text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
    guard let date = formatter.date(from: text) else { return nil }
    return Int64((date.timeIntervalSince1970 * 1000).rounded())
}

@Suite struct EnchargeDateTests {
    /// Epoch milliseconds and the exact text Encharge expects: `.mmm` only when non-zero.
    static let formatted: [(ms: Int64, text: String)] = [
        (0, "1970-01-01T00:00:00Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (1_583_504_643_000, "2020-03-06T14:24:03Z"),
        (1_583_504_643_522, "2020-03-06T14:24:03.522Z"),
        (1_583_504_643_050, "2020-03-06T14:24:03.050Z"),
        (1_583_504_643_005, "2020-03-06T14:24:03.005Z"),
        // Leap days: 2020 and 2000 (divisible by 400) are leap years, 2100 is not.
        (1_582_934_400_000, "2020-02-29T00:00:00Z"),
        (1_582_934_399_999, "2020-02-28T23:59:59.999Z"),
        (1_583_020_799_000, "2020-02-29T23:59:59Z"),
        (951_825_600_000, "2000-02-29T12:00:00Z"),
        (4_107_456_000_000, "2100-02-28T00:00:00Z"),
        (4_107_542_400_000, "2100-03-01T00:00:00Z"),
        (1_609_459_199_000, "2020-12-31T23:59:59Z"),
        // Before 1970: floor division, not truncation toward zero.
        (-1, "1969-12-31T23:59:59.999Z"),
        (-999, "1969-12-31T23:59:59.001Z"),
        (-1000, "1969-12-31T23:59:59Z"),
        (-1001, "1969-12-31T23:59:58.999Z"),
        (-86_400_000, "1969-12-31T00:00:00Z"),
        (-86_400_001, "1969-12-30T23:59:59.999Z"),
        (-14_182_940_000, "1969-07-20T20:17:40Z"),
        (-2_208_988_800_000, "1900-01-01T00:00:00Z"),
        (-2_203_891_200_000, "1900-03-01T00:00:00Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00Z"),
        (-62_167_219_200_000, "0000-01-01T00:00:00Z"),
        (-62_198_755_200_000, "-0001-01-01T00:00:00Z"),
        // Four-digit years end at 9999; later years get a sign, as ISO 8601 expanded years do.
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (253_402_300_800_000, "+10000-01-01T00:00:00Z"),
    ]

    @Test(arguments: formatted)
    func formatsEpochMillisecondsExactly(ms: Int64, text: String) {
        #expect(EnchargeDate.format(epochMilliseconds: ms) == text)
    }

    @Test(arguments: formatted.filter { $0.text.first != "+" && $0.text.first != "-" })
    func formattedTextParsesBackToTheSameInstant(ms: Int64, text: String) {
        #expect(EnchargeDate.epochMilliseconds(parsing: text) == ms)
    }

    /// Epoch numbers: seconds below 1e11, milliseconds at or above it.
    static let epochs: [(value: Double, ms: Int64?)] = [
        (0, 0),
        (1_583_504_643, 1_583_504_643_000),
        (1_583_504_643.522, 1_583_504_643_522),
        (1_583_504_643_522, 1_583_504_643_522),
        (-1_583_504_643, -1_583_504_643_000),
        (2.25, 2250),
        (99_999_999_999, 99_999_999_999_000),
        (100_000_000_000, 100_000_000_000),
        (-100_000_000_000, -100_000_000_000),
        (999_999_999_999_999, 999_999_999_999_999),
        (1e15, nil),
        (-1e15, nil),
        (.nan, nil),
        (.infinity, nil),
        (-.infinity, nil),
    ]

    @Test(arguments: epochs)
    func epochNumberIsSecondsOrMilliseconds(value: Double, ms: Int64?) {
        #expect(EnchargeDate.epochMilliseconds(fromEpoch: value) == ms)
    }

    @Test func millisecondThresholdIsTheYear5138InSeconds() {
        #expect(EnchargeDate.millisecondThreshold == 1e11)
        #expect(EnchargeDate.format(epochMilliseconds: 99_999_999_999_000) == "5138-11-16T09:46:39Z")
    }

    /// Date strings Encharge accepts and the instant they name.
    static let parsed: [(text: String, ms: Int64)] = [
        ("2020-03-06T14:24:03Z", 1_583_504_643_000),
        ("2020-03-06T14:24:03.522Z", 1_583_504_643_522),
        ("2020-03-06T14:24:03.5Z", 1_583_504_643_500),
        ("2020-03-06T14:24:03.05Z", 1_583_504_643_050),
        ("2020-03-06T14:24:03.1239Z", 1_583_504_643_123),
        ("2020-03-06T14:24:03,522Z", 1_583_504_643_522),
        ("2020-03-06t14:24:03z", 1_583_504_643_000),
        ("2020-03-06 14:24:03", 1_583_504_643_000),
        ("2020-03-06T14:24:03", 1_583_504_643_000),
        ("2020-03-06T14:24", 1_583_504_640_000),
        ("2020-03-06T14:24Z", 1_583_504_640_000),
        ("2020-03-06", 1_583_452_800_000),
        ("  2020-03-06T14:24:03Z  ", 1_583_504_643_000),
        // Offsets: local time minus the offset is UTC.
        ("2020-03-06T14:24:03+01:00", 1_583_501_043_000),
        ("2020-03-06T14:24:03+0100", 1_583_501_043_000),
        ("2020-03-06T14:24:03+01", 1_583_501_043_000),
        ("2020-03-06T14:24:03-05:30", 1_583_524_443_000),
        ("2020-03-06T14:24:03.522-0530", 1_583_524_443_522),
        ("2020-03-06T14:24+00:00", 1_583_504_640_000),
        ("2020-03-06T00:30:00+01:00", 1_583_451_000_000),
        ("1970-01-01T00:00:00-01:00", 3_600_000),
        ("1969-12-31T23:00:00-01:00", 0),
        // A leap second is read as the last second of its minute.
        ("2016-12-31T23:59:60Z", 1_483_228_799_000),
        // Leap days, and dates before 1970.
        ("2020-02-29", 1_582_934_400_000),
        ("2000-02-29T12:00:00Z", 951_825_600_000),
        ("1969-07-20T20:17:40Z", -14_182_940_000),
        ("1900-01-01T00:00:00Z", -2_208_988_800_000),
        ("0001-01-01", -62_135_596_800_000),
        // Strings of digits are epoch numbers, seconds or milliseconds.
        ("1583504643", 1_583_504_643_000),
        ("1583504643522", 1_583_504_643_522),
        ("1583504643.5", 1_583_504_643_500),
        ("-1583504643", -1_583_504_643_000),
        ("0", 0),
        ("20200306", 20_200_306_000),
    ]

    @Test(arguments: parsed)
    func parsesDateStringToEpochMilliseconds(text: String, ms: Int64) {
        #expect(EnchargeDate.epochMilliseconds(parsing: text) == ms)
    }

    /// Strings that name no date: impossible calendar dates, out-of-range fields, bad shapes.
    static let rejected: [String] = [
        "", "   ", "hello", "null", "now",
        "2021-02-29", "1900-02-29", "2100-02-29", "2020-02-30", "2020-04-31", "2020-13-01", "2020-00-10",
        "2020-01-00", "2020-01-32",
        "2020-3-6", "20-03-06", "2020/03/06", "2020-03-06T", "2020-03-06Z", "2020-03-06X14:24",
        "2020-03-06T1:24", "2020-03-06T14", "2020-03-06T24:00", "2020-03-06T14:60", "2020-03-06T14:24:61Z",
        "2020-03-06T14:24:3Z", "2020-03-06T14:24:03.Z", "2020-03-06T14:24:03X", "2020-03-06T14:24:03Zjunk",
        "2020-03-06T14:24:03+24:00", "2020-03-06T14:24:03+01:60", "2020-03-06T14:24:03+1",
        "2020-03-06T14:24:03 +01:00", "-2020-03-06", "1e3", "1.2.3", "--5", "-", ".", "1e15",
        "100000000000000000",
    ]

    @Test(arguments: rejected)
    func unreadableDateIsNil(text: String) {
        #expect(EnchargeDate.epochMilliseconds(parsing: text) == nil)
    }

    /// RFC 3339 internet date-times, which Foundation's ISO8601DateFormatter also reads.
    static let internetDateTimes = [
        "2020-03-06T14:24:03Z", "2020-03-06T14:24:03.522Z", "2020-03-06T14:24:03.5Z", "2020-02-29T23:59:59.999Z",
        "2020-03-06T14:24:03+01:00", "2020-03-06T14:24:03-05:30", "2020-03-06T00:30:00+01:00",
        "1969-12-31T23:00:00-01:00", "2000-02-29T12:00:00Z", "1969-07-20T20:17:40Z", "1900-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999Z", "2100-03-01T00:00:00+14:00",
    ]

    @Test(arguments: internetDateTimes)
    func agreesWithFoundationOnInternetDateTimes(text: String) throws {
        let expected = try #require(foundationMilliseconds(text))
        #expect(EnchargeDate.epochMilliseconds(parsing: text) == expected)
    }

    @Test func agreesWithFoundationOnEveryDayFrom1890To2110() {
        let formatter = ISO8601DateFormatter()
        var mismatches: [String] = []
        let firstDay = EnchargeDate.epochMilliseconds(parsing: "1890-01-01")! / 86_400_000
        let lastDay = EnchargeDate.epochMilliseconds(parsing: "2110-12-31")! / 86_400_000
        var checked = 0
        for day in firstDay...lastDay {
            // A different second of the day each time, to exercise the clock fields too.
            let ms = (day * 86_400 + ((day * 7919) % 86_400 + 86_400) % 86_400) * 1000
            let ours = EnchargeDate.format(epochMilliseconds: ms)
            let theirs = formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
            if ours != theirs || EnchargeDate.epochMilliseconds(parsing: theirs) != ms {
                mismatches.append("\(ms): \(ours) vs \(theirs)")
            }
            checked += 1
        }
        #expect(checked == 80_718)
        #expect(mismatches.prefix(5) == [])
    }
}

/// Dates read with a format and in a named zone (`encharge.iso8601(s, { format =, tz = })`).
@Suite struct EnchargeDateZoneTests {
    static let zones = [
        "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham",
    ]

    /// Every hour over years of transitions (and far past the files' last explicit transition,
    /// where the POSIX footer rule applies): our offsets equal Foundation's, an independent reading
    /// of the same tz database.
    @Test(arguments: zones)
    func offsetsMatchFoundationThroughTheYears(name: String) throws {
        let zone = try ZoneInfo.named(name)
        let oracle = try #require(TimeZone(identifier: name))
        var mismatches: [String] = []
        for start in [Int64(946_684_800), 2_208_988_800, 4_102_444_800] {  // 2000, 2040, 2100
            var t = start
            while t < start + 3 * 366 * 86400 {
                let ours = zone.offset(atUTC: t)
                let theirs = oracle.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))
                if ours != theirs { mismatches.append("\(t): \(ours) vs \(theirs)") }
                t += 3600
            }
        }
        #expect(mismatches.prefix(5) == [])
    }

    /// Wall-clock times in a zone become the instant Foundation's calendar gives for them,
    /// including the hours around each change of offset.
    @Test(arguments: zones)
    func wallClockTimesMatchFoundationsCalendar(name: String) throws {
        let zone = try ZoneInfo.named(name)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: name))
        var mismatches: [String] = []
        var local: Int64 = 1_577_836_800  // 2020-01-01T00:00 on the wall clock
        while local < 1_577_836_800 + 2 * 366 * 86400 {
            let days = local / 86400
            let (y, m, d) = EnchargeDate.civilFromDays(days)
            let secondOfDay = Int(local - days * 86400)
            let components = DateComponents(
                year: Int(y), month: m, day: d, hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60)
            let ours = zone.utcSeconds(fromLocal: local)
            let instant = try #require(calendar.date(from: components))
            let theirs = Int64(instant.timeIntervalSince1970)
            // Foundation moves a time in a gap forward by the gap, as we do; it matches in overlaps
            // only up to its choice of fold, so compare wall clocks that exist once.
            let existsOnce = calendar.dateComponents([.hour, .minute], from: instant).hour == secondOfDay / 3600
            if existsOnce && ours != theirs && zone.offset(atUTC: ours) == zone.offset(atUTC: theirs) {
                mismatches.append("\(components): \(ours) vs \(theirs)")
            }
            local += 1800
        }
        #expect(mismatches.prefix(5) == [])
    }

    @Test func changesOfOffsetAreReadAsDocumented() throws {
        let berlin = try ZoneInfo.named("Europe/Berlin")
        func local(_ text: String) -> Int64 { EnchargeDate.epochMilliseconds(parsing: text + "Z")! / 1000 }
        // 2021-03-28 02:30 never happens in Berlin: read with the offset before (+1), 01:30Z.
        #expect(berlin.utcSeconds(fromLocal: local("2021-03-28T02:30:00")) == local("2021-03-28T01:30:00"))
        // 2021-10-31 02:30 happens twice: the first (+2, summer time), 00:30Z.
        #expect(berlin.utcSeconds(fromLocal: local("2021-10-31T02:30:00")) == local("2021-10-31T00:30:00"))
    }

    @Test func fixedOffsetsAndUTCNeedNoDatabase() throws {
        #expect(try ZoneInfo.named("+05:30", directory: "/nonexistent").offset(atUTC: 0) == 19800)
        #expect(try ZoneInfo.named("-0800", directory: "/nonexistent").offset(atUTC: 0) == -28800)
        #expect(try ZoneInfo.named("UTC", directory: "/nonexistent").offset(atUTC: 0) == 0)
        #expect(throws: ZoneInfoError.self) { try ZoneInfo.named("Europe/Berlin", directory: "/nonexistent") }
    }

    @Test func footerRulesParse() throws {
        let us = try #require(PosixTimeZoneRule("EST5EDT,M3.2.0,M11.1.0"))
        #expect(us.offset(atUTC: 1_593_604_800) == -14400)  // 2020-07-01
        #expect(us.offset(atUTC: 1_577_836_800) == -18000)  // 2020-01-01
        let fixed = try #require(PosixTimeZoneRule("<+0330>-3:30"))
        #expect(fixed.offset(atUTC: 0) == 12600)
        #expect(PosixTimeZoneRule("CET-1CEST,M3.5.0") == nil)
    }

    /// (text, format, expected UTC text) with no zone given: naive times are UTC.
    static let formatted: [(text: String, format: String, iso: String)] = [
        ("03/06/2020 14:24", "%m/%d/%Y %H:%M", "2020-03-06T14:24:00Z"),
        ("3/6/20 2:24 pm", "%m/%d/%y %I:%M %p", "2020-03-06T14:24:00Z"),
        ("12/31/69 12:00 AM", "%D %I:%M %p", "1969-12-31T00:00:00Z"),
        ("06.03.2020", "%d.%m.%Y", "2020-03-06T00:00:00Z"),
        ("Friday, 6 March 2020 14:24:03.5", "%A, %e %B %Y %T.%f", "2020-03-06T14:24:03.500Z"),
        ("6-MAR-2020 14:24:03 +0100", "%d-%b-%Y %H:%M:%S %z", "2020-03-06T13:24:03Z"),
        ("2020-03-06T14:24:03-05:30", "%FT%T%z", "2020-03-06T19:54:03Z"),
        ("2020-03-06 14:24 UTC", "%Y-%m-%d %H:%M %Z", "2020-03-06T14:24:00Z"),
        ("2020 066", "%Y %j", "2020-03-06T00:00:00Z"),
        ("100% 2020", "100%% %Y", "2020-01-01T00:00:00Z"),
        ("20200306142403", "%Y%m%d%H%M%S", "2020-03-06T14:24:03Z"),
    ]

    @Test(arguments: formatted)
    func formatDirectivesReadCommonExportDates(text: String, format: String, iso: String) throws {
        let ms = try EnchargeDate.epochMilliseconds(parsing: text, format: format, zone: nil)
        #expect(EnchargeDate.format(epochMilliseconds: ms) == iso)
    }

    @Test func aNaiveDateIsReadInTheZoneOnlyWhenOneIsGiven() throws {
        let berlin = try ZoneInfo.named("Europe/Berlin")
        #expect(
            try EnchargeDate.epochMilliseconds(parsing: "2020-07-01 12:00", format: nil, zone: berlin)
                == EnchargeDate.epochMilliseconds(parsing: "2020-07-01T10:00:00Z"))
        #expect(
            try EnchargeDate.epochMilliseconds(parsing: "2020-07-01 12:00", format: nil, zone: nil)
                == EnchargeDate.epochMilliseconds(parsing: "2020-07-01T12:00:00Z"))
        // A stated offset wins over the zone.
        #expect(
            try EnchargeDate.epochMilliseconds(parsing: "2020-07-01T12:00:00+00:00", format: nil, zone: berlin)
                == EnchargeDate.epochMilliseconds(parsing: "2020-07-01T12:00:00Z"))
    }
}
