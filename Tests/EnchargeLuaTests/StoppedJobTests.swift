import Foundation
import MockIngest
import TestSupport
import Testing

/// What a stopped `run` leaves behind (issue 7, "nothing duplicated, nothing silently lost"): a
/// stopped run names the first record it did not read and the inputs it did not open, and an
/// unwritable `--dead-letter` stops a run before its first record.
@Suite(.serialized) struct StoppedJobTests {
    static let key = "e2e-stopped-right-key-5d1e"
    static let wrongKey = "e2e-stopped-wrong-key-a20b"

    /// The mock Ingest API taking only the right key.
    static let ingest = MockIngestConfiguration(writeKey: key)

    /// The command line with `key` as `ENCHARGE_WRITE_KEY`.
    func commandLine(key: String) -> InProcessCommandLine {
        var cli = InProcessCommandLine()
        cli.environment = ["ENCHARGE_WRITE_KEY": key]
        return cli
    }

    @Test(.timeLimit(.minutes(2)))
    func aStoppedRunNamesTheFirstRecordItDidNotReadAndTheInputsItDidNotOpen() async throws {
        try await TemporaryDirectory.with { tmp in
            let rules = try tmp.write(
                "rules.lua",
                """
                function on_record(r) encharge.identify{ userId = r.uid } encharge.track("Step", { userId = r.uid }) end
                """)
            var lines = ""
            for i in 0..<20_000 { lines += "{\"uid\":\"u\(i)\"}\n" }
            let input = try tmp.write("in.jsonl", lines)
            let later = try tmp.write("later.jsonl", "{\"uid\":\"x\"}\n")
            try await ScriptedIngestServer.with(configuration: Self.ingest) { _, endpoint in
                let run = await commandLine(key: Self.wrongKey).run(
                    ["run", rules, input, later, "--endpoint", endpoint, "--dead-letter", tmp.path + "/dead.jsonl"])
                #expect(run.status == 2, "stderr: \(run.stderr)")
                let records = try #require(JobSummary.numbers(run.stderr)["records"])
                #expect(records < 20_000)
                #expect(
                    run.stderr.contains(
                        "error: the run stopped before reading all input: the first record not read is \(input):\(records + 1), "
                            + "and \(later) was not opened; after fixing the cause, run again from there\n"),
                    "stderr: \(run.stderr)")
                // The dead letters (for a replay) and the rest of the input (for a run from there) do not overlap.
                let lineNumbers = tmp.lines("dead.jsonl").compactMap { line -> Int? in
                    let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    return (entry?["source"] as? String).flatMap { Int($0.split(separator: ":").last ?? "") }
                }
                #expect(Set(lineNumbers) == Set(1...records), "every read record's events, and only those")
            }
        }
    }

    @Test(arguments: ["/proc/encharge-x.jsonl", "/sys/encharge-x.jsonl"])
    func anUnwritableDeadLetterPathStopsTheRunBeforeTheFirstRecord(path: String) async throws {
        try await TemporaryDirectory.with { tmp in
            let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
            let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n{\"mail\":\"b@x.io\"}\n")
            let run = await InProcessCommandLine().run(["run", rules, input, "--dry-run", "--dead-letter", path])
            #expect(run.status == 2, "stderr: \(run.stderr)")
            #expect(run.stderr.hasPrefix("error: cannot write the dead-letter file \(path): "), "stderr: \(run.stderr)")
            #expect(run.stdout.isEmpty, "no record was mapped")
        }
    }

    @Test func aDeadLetterFileCreatedUpFrontIsRemovedWhenNothingFailed() async throws {
        try await TemporaryDirectory.with { tmp in
            let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
            let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n")
            let cli = InProcessCommandLine()
            let run = await cli.run(["run", rules, input, "--dry-run", "--dead-letter", tmp.path + "/dead.jsonl"])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: tmp.path + "/dead.jsonl"))
            let sink = await cli.run(
                ["run", rules, try tmp.write("bad.jsonl", "{}\n"), "--dry-run", "--dead-letter", "/dev/null"])
            #expect(sink.status == 1)
            #expect(!sink.stderr.contains("written to"), "no hint for /dev/null: \(sink.stderr)")
        }
    }
}
