import Foundation
import TestSupport
import Testing

/// `run --jobs N` and `replay --jobs N`: several Lua states map chunks of records and the results
/// are merged back in input order, so everything the job prints and writes is what `--jobs 1`
/// does. Run in process.
@Suite struct MappingJobsTests {
    /// Runs `arguments` with `--jobs 1` and with `--jobs jobs`, each with its own dead-letter
    /// file, and expects the same status, stdout, stderr (but the summary's timings) and dead letters.
    func expectSameOutput(
        _ tmp: TemporaryDirectory, _ arguments: [String], jobs: Int = 3,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> InProcessCommandLine.Result {
        var results: [(InProcessCommandLine.Result, String)] = []
        for n in [1, jobs] {
            let dead = tmp.file("dead-\(n).jsonl")
            let result = await InProcessCommandLine().run(arguments + ["--jobs", "\(n)", "--dead-letter", dead])
            results.append((result, JobSummary.deadLettersWithoutRunMembers(tmp.read("dead-\(n).jsonl"))))
        }
        let (one, oneDead) = results[0]
        let (many, manyDead) = results[1]
        #expect(many.status == one.status, sourceLocation: sourceLocation)
        #expect(many.stdout == one.stdout, sourceLocation: sourceLocation)
        #expect(
            JobSummary.withoutTimings(many.stderr.replacingOccurrences(of: "dead-\(jobs).jsonl", with: "dead-1.jsonl"))
                == JobSummary.withoutTimings(one.stderr), sourceLocation: sourceLocation)
        #expect(manyDead == oneDead, sourceLocation: sourceLocation)
        return one
    }

    @Test func manyChunksMergeBackInInputOrder() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", MixedRecords.rule)
        // Enough records for many chunks per worker and more chunks than may be in flight.
        let input = try MixedRecords.write(tmp, "in.jsonl", MixedRecords.jsonLines(6000))
        let one = try await expectSameOutput(tmp, ["run", rules, input, "--dry-run"])
        #expect(one.status == 1)
        let sources = one.stdoutLines.compactMap { line -> String? in
            guard let range = line.range(of: #""source":""#) else { return nil }
            return String(line[range.upperBound...].prefix { $0 != "\"" })
        }
        let lines = sources.compactMap { Int($0.split(separator: ":").last ?? "") }
        #expect(lines.count > 4000 && lines == lines.sorted(), "events come in input order")
        #expect(one.stderr.contains("in.jsonl:97: error: invalid JSON"))
        #expect(one.stderr.contains("in.jsonl:89: error: invalid JSON at byte 20: invalid UTF-8 byte 0xFF"))
        #expect(one.stderr.contains("error: failing record 5 (record \(input):5)"))
        #expect(one.stderr.contains("in.jsonl:30: warning: key \"kind\" appears more than once in one JSON object"))
        #expect(one.stderr.contains("seen 15"))
        #expect(one.stderr.contains("warning: key \"a\" was repeated"))
        #expect(one.stderr.contains("tags contained a comma; Encharge splits tags at commas (first: "))
        #expect(one.stderr.contains("/rules.lua:9, record \(input):25)"))
    }

    @Test func severalInputsWithCSVAndAJSONArray() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", MixedRecords.rule)
        let lines = try MixedRecords.write(tmp, "a.jsonl", MixedRecords.jsonLines(700))
        var csv = "id,kind\n"
        for id in 1000..<1600 { csv += "\(id),\(id % 11 == 0 ? "fail" : id % 13 == 0 ? "skip" : "ok")\n" }
        let table = try tmp.write("b.csv", csv)
        // This header looks like another delimiter: a warning, after b.csv's records and before its own.
        let semicolons = try tmp.write("w.csv", "id;kind\n1;ok\n2;ok\n")
        let array = try tmp.write(
            "c.json", "[" + (2000..<2400).map { "{\"id\": \($0)}" }.joined(separator: ",\n") + "]")
        let one = try await expectSameOutput(
            tmp, ["run", rules, lines, table, semicolons, array, "--dry-run"], jobs: 4)
        #expect(one.stderr.contains("failing record 1012 (record \(table):13)"))
        #expect(one.stderr.contains("w.csv"), "the CSV header warning is part of the comparison")
        #expect(one.stdoutLines.contains { $0.contains("\"source\":\"\(array):") })
    }

    @Test func failFastStopsAtTheSameRecord() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", MixedRecords.rule)
        // The first failure is deep in a later chunk; the records after it were read ahead.
        var text = (1...3000).map { "{\"id\": \($0), \"kind\": \"log\"}\n" }.joined()
        text += "{\"id\": 3001, \"kind\": \"fail\"}\n" + MixedRecords.jsonLines(2000, from: 3002)
        let input = try MixedRecords.write(tmp, "in.jsonl", text)
        let more = try MixedRecords.write(tmp, "more.jsonl", MixedRecords.jsonLines(10))
        let one = try await expectSameOutput(tmp, ["run", rules, input, more, "--dry-run", "--fail-fast"])
        #expect(one.status == 1)
        #expect(one.stderr.contains("failing record 3001"))
        #expect(!one.stdout.contains("u3002@example.com"), "nothing after the failed record is printed")
    }

    @Test func anInputErrorIsReportedAfterTheRecordsBeforeIt() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", MixedRecords.rule)
        let before = try MixedRecords.write(tmp, "before.jsonl", MixedRecords.jsonLines(1500))
        // Two columns with one name: an input error, reported once the records before it are.
        let bad = try tmp.write("bad.csv", "id,id\n1,2\n")
        let after = try MixedRecords.write(tmp, "after.jsonl", MixedRecords.jsonLines(600))
        let one = try await expectSameOutput(tmp, ["run", rules, before, bad, after, "--dry-run"])
        #expect(one.status == 2)
        let lines = one.stderrLines
        let errorLine = try #require(lines.firstIndex { $0.hasPrefix("\(bad):1: error:") })
        // Lines about one record (the counted warnings at the end name one too).
        let lastBefore = try #require(
            lines.lastIndex { $0.hasPrefix("\(before):") || $0.contains("(record \(before):") })
        let firstAfter = try #require(lines.firstIndex { $0.contains("\(after):") })
        #expect(lastBefore < errorLine && errorLine < firstAfter)
    }

    @Test func traceMapsOnOneStateWhateverJobsSays() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", MixedRecords.rule)
        let input = try MixedRecords.write(tmp, "in.jsonl", MixedRecords.jsonLines(40))
        let one = try await expectSameOutput(tmp, ["run", rules, input, "--dry-run", "--trace"], jobs: 4)
        #expect(one.stderr.contains("in.jsonl:3"))
    }

    @Test func replayMapsRecordEntriesInFileOrder() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", MixedRecords.rule)
        var entries = ""
        for (n, line) in MixedRecords.jsonLines(3000).split(separator: "\n").enumerated() {
            let quoted = "\"" + line.replacingOccurrences(of: "\"", with: "\\\"") + "\""
            let record = line.contains("oops") || line.contains(MixedRecords.invalidByte) ? quoted : String(line)
            entries += #"{"kind":"record","record":\#(record),"error":"x","source":"in.jsonl:\#(n + 1)","run_id":"r1"}"#
            entries += "\n"
            if n % 50 == 0 {
                entries +=
                    #"{"kind":"event","event":{"name":"identify","user":{"email":"e\#(n)@example.com"}},"run_id":"r1"}"#
                entries += "\n"
            }
            if n % 333 == 0 {
                entries += "not an entry\n"
                entries += #"{"kind":"record","record":{"id":1},"run_id":"r2"}"# + "\n"
                entries += #"{"kind":"event","event":{"name":"identify","user":{}},"run_id":"r1"}"# + "\n"
            }
        }
        let file = try tmp.write("dead.in.jsonl", entries)
        let one = try await expectSameOutput(tmp, ["replay", file, "--rules", rules, "--dry-run", "--run-id", "r1"])
        #expect(one.status == 1)
        #expect(one.stdout.contains("e50@example.com"))
        #expect(one.stderr.contains("error: failing record 5 (record in.jsonl:5)"))
        #expect(one.stderr.contains("error: not a dead-letter entry"))
        #expect(one.stdoutLines.count > 4000)
    }

    @Test func jobsDoNotApplyToASpoolReplay() async throws {
        let result = await InProcessCommandLine().run(["replay", "--spool", "spool.sqlite", "--jobs", "2"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--jobs applies to a dead-letter file, not to --spool"))
    }

    @Test(arguments: ["0", "1025"])
    func jobsOutOfRangeIsAUsageError(_ jobs: String) async throws {
        let result = await InProcessCommandLine().run(["run", "rules.lua", "in.jsonl", "--dry-run", "--jobs", jobs])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--jobs must be between 1 and 1024, got \(jobs)"))
    }
}
