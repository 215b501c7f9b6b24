import Foundation
import TestSupport
import Testing

/// `log.*` and `print` as a user meets them on the command line, run in process. The files are passed by
/// absolute path (the binary's tests ran in the temporary directory), so lines name them by that path.
@Suite struct RuleLogTests {
    /// A 50 MB string (built under the memory cap) logs as one bounded line that keeps the rule
    /// line and says how much it left out, and reading it costs the rule next to nothing: the run
    /// used to copy it three times and be given up by the watchdog.
    @Test func aHugeStringLogsABoundedLineWithItsRuleLine() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r)
              local big = string.rep("x", 50e6)
              log.info(big, "tail")
              print(big)
              encharge.identify{ userId = r.id }
            end
            """)
        let input = try tmp.write("in.jsonl", "{\"id\":1}\n")
        let (result, timedOut) = await InProcessCommandLine().run(
            ["run", rules, input, "--dry-run", "--memory-limit", "256", "--time-limit", "2"], timeout: .seconds(60))
        #expect(!timedOut)
        #expect(result.status == 0, "\(result.stderr.prefix(300))")
        #expect(result.stdout == #"{"name":"identify","user":{"userId":"1"}}"# + "\n")
        #expect(result.stderr.utf8.count < 16 << 10)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.allSatisfy { $0.utf8.count <= 4096 })
        let logged = lines.filter { $0.hasPrefix("\(input):1: info: xxx") }
        try #require(logged.count == 2)
        #expect(logged[0].hasSuffix(" bytes more) (\(rules):3)"))
        #expect(logged[1].hasSuffix(" bytes more) (\(rules):4)"))
        // What is shown and what is counted add up to the string.
        let line = logged[1]
        let shown = line.dropFirst("\(input):1: info: ".count).prefix { $0 == "x" }.count
        let count = try #require(
            line.split(separator: "(").dropLast().last?.split(separator: " ").first.flatMap { Int($0) })
        #expect(shown + count == 50_000_000)
    }

    /// Thousands of large tables after the cut are counted, not converted to JSON one by one (about
    /// a millisecond each, which used to add up to a watchdog overrun).
    @Test func tablesPastTheCutAreCountedNotConverted() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r)
              local row = {} for i = 1, 5000 do row[i] = "value " .. i end
              local rows = {} for i = 1, 20000 do rows[i] = row end
              log.info(string.rep("x", 5000), table.unpack(rows))
              encharge.identify{ userId = r.id }
            end
            """)
        let input = try tmp.write("in.jsonl", "{\"id\":1}\n")
        let (result, timedOut) = await InProcessCommandLine().run(
            ["run", rules, input, "--dry-run", "--time-limit", "2"], timeout: .seconds(60))
        #expect(!timedOut)
        #expect(result.status == 0, "\(result.stderr.prefix(300))")
        let line = try #require(result.stderr.split(separator: "\n").first { $0.hasPrefix("\(input):1: info: xxx") })
        #expect(line.utf8.count <= 4096)
        let shown = line.dropFirst("\(input):1: info: ".count).prefix { $0 == "x" }.count
        #expect(line.hasSuffix("… (\(5000 - shown) bytes and 20000 values more) (\(rules):4)"), "\(line.suffix(80))")
    }

    @Test func loggedValuesAreEscapedAndInvalidBytesShowAsReplacements() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua", #"function on_record(r) log.warn("a\27[31mb\nc", 1.5, { x = 1 }, nil, "\255z", "é") end"#)
        let input = try tmp.write("in.jsonl", "{\"id\":1}\n")
        let (result, timedOut) = await InProcessCommandLine().run(
            ["run", rules, input, "--dry-run"], timeout: .seconds(60))
        #expect(!timedOut)
        #expect(result.status == 0)
        #expect(
            result.stderr.contains(
                "\(input):1: warning: " + #"a\u001b[31mb\nc 1.5 {"x":1} nil "# + "\u{FFFD}z é (\(rules):1)\n"))
    }
}
