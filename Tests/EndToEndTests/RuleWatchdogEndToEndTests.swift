import Foundation
import TestSupport
import Testing

// A real process: the watchdog abandons the stuck thread, so only the process exiting ends it.
/// A rule call stuck inside one C call (which no hook can interrupt) under `check --input` and
/// `replay --rules`: the watchdog gives it up at 2× the time limit, reports the rule line and the
/// record, keeps what was emitted before it, and the process exits 1 instead of hanging.
@Suite struct RuleWatchdogEndToEndTests {
    /// Record 1 maps, record 2 calls a library function that runs for ever, record 3 never runs.
    static let stuckRule = """
        function on_record(r, ctx)
          if r.id == 2 then
            table.move({}, 1, 1e12, 2)
          end
          encharge.identify{ userId = r.id }
        end
        """

    @Test func checkWithASampleReportsAStuckCallAndExits1() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        _ = try tmp.write("rules.lua", Self.stuckRule)
        let sample = try tmp.write("sample.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n")
        let start = Date()
        let result = try Binary.run(
            ["check", "rules.lua", "--input", sample, "--time-limit", "0.5"], directory: tmp.path, timeout: 60)
        #expect(!result.timedOut)
        #expect(Date().timeIntervalSince(start) < 30)
        #expect(result.status == 1)
        #expect(result.stdout == #"{"name":"identify","user":{"userId":"1"}}"# + "\n")
        #expect(result.stderr.contains("rules.lua:3: error: a call of the rule ran for "))
        #expect(result.stderr.contains("over 2× the time limit of 0.50 s"))
        #expect(
            result.stderr.contains("the check stops here, so change the rule near this line (record \(sample):2)\n"))
        #expect(result.stderr.contains("sample: 2 records: 1 with events, 0 skipped, 1 failed; 1 event\n"))
        #expect(result.stderr.contains("rules.lua: error: 1 sample record failed; fix these before running the rule\n"))
        #expect(!result.stderr.contains("ok ("))
    }

    @Test func replayOfRecordEntriesReportsAStuckCallDeadLettersItAndExits1() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        // A rule that fails every record makes the record entries; marked as a real run's.
        let failing = try tmp.write("failing.lua", "function on_record(r) error('not yet') end")
        let input = try tmp.write("in.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n")
        let dead = tmp.path + "/dead.jsonl"
        _ = try Binary.run(["run", failing, input, "--dry-run", "--dead-letter", dead], directory: tmp.path)
        let real = tmp.read("dead.jsonl").replacingOccurrences(of: "\"dry_run\":true", with: "\"dry_run\":false")
        try real.write(toFile: dead, atomically: true, encoding: .utf8)
        try #require(try JobSummary.entries(dead).count == 3)

        let rules = try tmp.write("rules.lua", Self.stuckRule)
        let retry = tmp.path + "/retry.jsonl"
        let start = Date()
        let result = try Binary.run(
            ["replay", dead, "--rules", rules, "--dry-run", "--dead-letter", retry, "--time-limit", "0.5"],
            directory: tmp.path, timeout: 60)
        #expect(!result.timedOut)
        #expect(Date().timeIntervalSince(start) < 30)
        #expect(result.status == 1)
        #expect(result.stdout == #"{"name":"identify","user":{"userId":"1"}}"# + "\n")
        #expect(result.stderr.contains("rules.lua:3: error: a call of the rule ran for "))
        #expect(
            result.stderr.contains("the replay stops here, so change the rule near this line (record \(input):2)\n"))
        #expect(result.stderr.contains("replay stopped: 2 entries: 1 with events, 0 skipped, 1 failed; 1 event"))
        // The entry not read yet is carried over unread, so replaying the retry file misses nothing.
        #expect(result.stderr.contains("; 1 more entry not read, carried over unread to \(retry)\n"))
        let kept = try JobSummary.entries(retry)
        try #require(kept.count == 2)
        #expect(kept[0]["source"] as? String == "\(input):2")
        #expect((kept[0]["record"] as? [String: Any])?["id"] as? Int == 2)
        #expect((kept[0]["error"] as? String)?.contains("rules.lua:3: a call of the rule ran for") == true)
        #expect(kept[1]["source"] as? String == "\(input):3")
        #expect((kept[1]["record"] as? [String: Any])?["id"] as? Int == 3)
    }
}
