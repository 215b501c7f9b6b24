import Foundation
import TestSupport
import Testing

/// What a stopped `replay` leaves behind through the binary (issue 7, "nothing duplicated, nothing
/// silently lost"): it carries the entries it did not read over to its output file, and the hint
/// after a job selects only that job's entries with `--run-id`.
@Suite(.serialized) struct StoppedJobEndToEndTests {
    static let key = "e2e-stopped-right-key-5d1e"
    static let wrongKey = "e2e-stopped-wrong-key-a20b"

    /// The command between backticks in a hint (`run `encharge-lua replay ...``), as arguments.
    func hintCommand(_ stderr: String) throws -> [String] {
        let parts = stderr.components(separatedBy: "`")
        try #require(parts.count >= 3, "a hint with a command: \(stderr)")
        let words = parts[1].split(separator: " ").map(String.init)
        try #require(words.first == "encharge-lua")
        return Array(words.dropFirst())
    }

    // Kept on the binary for now: the 15,000 requests overflow ScriptedIngestServer's stack (its
    // `Mutex<Script>` re-wraps the closure on every request), so it uses `encharge-lua mock-ingest`.
    @Test(.timeLimit(.minutes(2)))
    func aStoppedReplayCarriesTheEntriesItDidNotReadOverToItsOutput() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key], in: tmp)
        defer { mock.stop() }
        // More entries than the delivery queue holds, so the refused key stops the replay part-way.
        let total = 15_000
        var lines = ""
        for i in 0..<total {
            lines +=
                "{\"kind\":\"event\",\"event\":{\"name\":\"Step\",\"user\":{\"userId\":\"u\(i % 100)\"},"
                + "\"properties\":{\"seq\":\(i)}},"
                + "\"reason\":\"HTTP 500\",\"attempts\":8,\"source\":\"in.jsonl:\(i + 1)\",\"run_id\":\"R0\",\"dry_run\":false}\n"
        }
        let dead = try tmp.write("dead.jsonl", lines)
        let wrong = try Binary.run(
            ["replay", dead, "--endpoint", mock.endpoint], environment: ["ENCHARGE_WRITE_KEY": Self.wrongKey])
        #expect(wrong.status == 2, "stderr: \(wrong.stderr)")
        let read = try #require(JobSummary.numbers(wrong.stderr)["entries"])
        #expect(read < total, "the replay stopped part-way: \(wrong.stderr)")
        #expect(wrong.stderr.contains("; \(total - read) more entries not read, carried over unread to "))
        let retry = tmp.lines("dead.retry.jsonl")
        #expect(retry.count == total, "every entry, read or not, is in the retry file")
        #expect(
            JobSummary.inPerPersonOrder(JobSummary.events(retry)), "unread entries come after the dead-lettered ones")
        #expect(wrong.stderr.contains("\(total) entries failed again, written to"), "stderr: \(wrong.stderr)")
        #expect(mock.received().isEmpty)

        // The hint's command, with the right key, sends every entry once.
        let replay = try Binary.run(
            try hintCommand(wrong.stderr) + ["--endpoint", mock.endpoint],
            environment: ["ENCHARGE_WRITE_KEY": Self.key])
        #expect(replay.status == 0, "stderr: \(replay.stderr)")
        let received = mock.received()
        let sequence = received.compactMap { ($0["properties"] as? [String: Any])?["seq"] as? Int }
        #expect(sequence.count == total && Set(sequence).count == total, "every entry once")
        #expect(JobSummary.inPerPersonOrder(received))
    }

    // Runs the binary twice, as a user does, so `--run-id` is checked against ids that two separate
    // processes wrote.
    @Test(.timeLimit(.minutes(1)))
    func theHintSelectsThisRunsEntriesWhenTheFileHoldsEarlierOnes() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key], in: tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
        let fixed = try tmp.write("fixed.lua", "function on_record(r) encharge.identify{ email = r.mail } end")
        let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n{\"mail\":\"b@x.io\"}\n")
        let environment = ["ENCHARGE_WRITE_KEY": Self.key]
        let first = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint], environment: environment,
            directory: tmp.path)
        #expect(first.status == 1)
        #expect(
            try hintCommand(first.stderr) == ["replay", "dead-letter.jsonl", "--rules", rules],
            "a fresh file needs no --run-id")
        let second = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint], environment: environment,
            directory: tmp.path)
        #expect(second.status == 1)
        #expect(tmp.lines("dead-letter.jsonl").count == 2)
        let command = try hintCommand(second.stderr)
        #expect(command.contains("--run-id"), "stderr: \(second.stderr)")
        #expect(second.stderr.contains("1 entry written to dead-letter.jsonl"))

        // The pasted command (with the fixed rule) replays the second run's entry only.
        let replay = try Binary.run(
            command.map { $0 == rules ? fixed : $0 } + ["--dry-run"], environment: environment, directory: tmp.path)
        #expect(replay.status == 0, "stderr: \(replay.stderr)")
        #expect(replay.stdout.split(separator: "\n").count == 1, "stdout: \(replay.stdout)")
        let all = try Binary.run(["replay", "dead-letter.jsonl", "--rules", fixed, "--dry-run"], directory: tmp.path)
        #expect(all.stdout.split(separator: "\n").count == 2, "without --run-id, every entry")
        let none = try Binary.run(
            ["replay", "dead-letter.jsonl", "--rules", fixed, "--dry-run", "--run-id", "nope"],
            directory: tmp.path)
        #expect(none.stdout.isEmpty)
        #expect(
            none.stderr.contains(
                "warning: no entry of dead-letter.jsonl was written by run nope; check the "
                    + "--run-id against the \"run_id\" of its entries\n"), "stderr: \(none.stderr)")
    }
}
