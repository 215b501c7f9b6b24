import Foundation
import TestSupport
import Testing

/// Issue 8 through the real binary: the watchdog gives up a rule's call stuck in C.
// Needs the real binary: the abandoned thread keeps spinning until the process exits.
@Suite struct SandboxEndToEndTests {
    /// Three records; the rule misbehaves only on the second, so the first shows that what came
    /// before the watchdog is kept.
    func runThreeRecords(
        _ tmp: TemporaryDirectory, rule: String, flags: [String] = [], timeout: Double = 60
    ) throws -> Binary.Result {
        let rules = try tmp.write("rules.lua", rule)
        let input = try tmp.write("in.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n")
        return try Binary.run(
            ["run", rules, input, "--dry-run", "--dead-letter", tmp.path + "/dead.jsonl"] + flags, timeout: timeout)
    }

    func deadLetters(_ tmp: TemporaryDirectory) throws -> [[String: Any]] {
        try tmp.lines("dead.jsonl").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    @Test func aStuckCCallIsGivenUpAfterTwiceTheTimeLimitAndItsRecordDeadLettered() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let start = Date()
        let result = try runThreeRecords(
            tmp,
            rule: """
                function on_record(r, ctx)
                  encharge.identify{ userId = r.id }
                  if r.id == 2 then
                    table.move({}, 1, 1e12, 2)
                  end
                end
                """, flags: ["--time-limit", "0.5"], timeout: 60)
        #expect(!result.timedOut)
        #expect(Date().timeIntervalSince(start) < 30)
        #expect(result.status == 1)
        // Record 1's event is printed; record 2's is dropped with its record; record 3 never runs.
        #expect(result.stdout == #"{"name":"identify","user":{"userId":"1"}}"# + "\n")
        #expect(result.stderr.contains("rules.lua:4: error: a call of the rule ran for "))
        #expect(result.stderr.contains("over 2× the time limit of 0.50 s"))
        #expect(result.stderr.contains("(record \(tmp.path)/in.jsonl:2)"))
        #expect(result.stderr.contains("stopped: 2 records: 1 with events, 0 skipped, 1 failed; 1 event in "))
        let dead = try deadLetters(tmp)
        try #require(dead.count == 1)
        #expect(dead[0]["source"] as? String == "\(tmp.path)/in.jsonl:2")
        #expect((dead[0]["record"] as? [String: Any])?["id"] as? Int == 2)
        #expect((dead[0]["error"] as? String)?.contains("rules.lua:4: a call of the rule ran for") == true)
    }

    @Test func aStuckCCallStillDeliversWhatEarlierRecordsEmitted() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess([], in: tmp)
        defer { mock.stop() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              if r.id == 50 then table.move({}, 1, 1e12, 2) end
              encharge.identify{ userId = r.id }
            end
            """)
        let input = try tmp.write("in.jsonl", (1...60).map { "{\"id\":\($0)}\n" }.joined())
        let result = try Binary.run(
            [
                "run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl",
                "--time-limit", "0.5",
            ],
            environment: ["ENCHARGE_WRITE_KEY": "e2e-watchdog-key"], timeout: 60)
        #expect(!result.timedOut)
        #expect(result.status == 1)
        #expect(result.stderr.contains("rules.lua:2: error: a call of the rule ran for "))
        let ids = Set(mock.received().compactMap { ($0["user"] as? [String: Any])?["userId"] as? String })
        #expect(ids == Set((1...49).map(String.init)))
    }
}
