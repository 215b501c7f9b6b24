import Foundation
import MockIngest
import TestSupport
import Testing

/// A wrong write key stops `run` and `replay` (issue 7): they stop reading input, say which key
/// source to check and exit 2, and every event already emitted is dead-lettered, in per-person
/// order, so a replay with the right key sends it.
@Suite(.serialized) struct RefusedWriteKeyTests {
    static let key = "e2e-right-key-3f9a"
    static let wrongKey = "e2e-wrong-key-77c0"

    /// `records` records, identify + track each, for 100 people.
    func input(_ tmp: TemporaryDirectory, records: Int) throws -> (rules: String, input: String) {
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              encharge.identify{ email = r.email, userId = r.uid }
              encharge.track("Step", { userId = r.uid }, { seq = r.seq })
            end
            """)
        var lines = ""
        for i in 0..<records {
            lines += "{\"email\":\"p\(i % 100)@example.com\",\"uid\":\"u\(i % 100)\",\"seq\":\(i)}\n"
        }
        return (rules, try tmp.write("in.jsonl", lines))
    }

    /// The scripted server's accepted events, as JSON lines.
    func accepted(_ server: ScriptedIngestServer) -> [String] { server.accepted.map(\.text) }

    @Test(.timeLimit(.minutes(2)))
    func aRefusedKeyStopsTheRunAndAReplayWithTheRightKeySendsEveryEmittedEvent() async throws {
        try await TemporaryDirectory.with { tmp in
            // 40,000 events: more than the delivery queue, so without the stop the run would read it all.
            let (rules, input) = try input(tmp, records: 20_000)
            let ingest = MockIngestConfiguration(writeKey: Self.key)
            try await ScriptedIngestServer.with(configuration: ingest) { server, endpoint in
                var wrong = InProcessCommandLine()
                wrong.environment = ["ENCHARGE_WRITE_KEY": Self.wrongKey]
                let run = await wrong.run(
                    ["run", rules, input, "--endpoint", endpoint, "--dead-letter", tmp.path + "/dead.jsonl"])
                #expect(run.status == 2, "stderr: \(run.stderr)")
                #expect(
                    run.stderr.hasSuffix(
                        "error: the Ingest API refused the write key (HTTP 401); check ENCHARGE_WRITE_KEY\n"))
                let numbers = JobSummary.numbers(run.stderr)
                let records = try #require(numbers["records"])
                #expect(records < 20_000, "the run stopped reading input")
                let dead = tmp.lines("dead.jsonl")
                #expect(numbers["events"] == dead.count, "every emitted event is dead-lettered: \(run.stderr)")
                #expect(
                    dead.allSatisfy { $0.contains("\"reason\":\"the Ingest API refused the write key (HTTP 401)\"") })
                #expect(JobSummary.inPerPersonOrder(JobSummary.events(dead)))
                #expect(!tmp.read("dead.jsonl").contains(Self.wrongKey) && !run.stderr.contains(Self.wrongKey))
                #expect(server.accepted.isEmpty)

                var right = InProcessCommandLine()
                right.environment = ["ENCHARGE_WRITE_KEY": Self.key]
                let replay = await right.run(["replay", tmp.path + "/dead.jsonl", "--endpoint", endpoint])
                #expect(replay.status == 0, "stderr: \(replay.stderr)")
                let received = JobSummary.events(accepted(server))
                #expect(received.count == dead.count)
                #expect(JobSummary.inPerPersonOrder(received))
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func theMessageNamesTheWriteKeyFileWhenOneWasUsed() async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, input) = try input(tmp, records: 20)
            let keyFile = try tmp.write("key.txt", Self.wrongKey + "\n")
            let ingest = MockIngestConfiguration(writeKey: Self.key)
            try await ScriptedIngestServer.with(configuration: ingest) { server, endpoint in
                // No ENCHARGE_WRITE_KEY in the environment: the key comes from the file only.
                let cli = InProcessCommandLine()
                let run = await cli.run(
                    [
                        "run", rules, input, "--endpoint", endpoint, "--dead-letter", tmp.path + "/dead.jsonl",
                        "--write-key-file", keyFile,
                    ])
                #expect(run.status == 2, "stderr: \(run.stderr)")
                #expect(
                    run.stderr.contains(
                        "error: the Ingest API refused the write key (HTTP 401); check --write-key-file \(keyFile)\n"))
                #expect(JobSummary.numbers(run.stderr)["events"] == tmp.lines("dead.jsonl").count)

                // replay says the same with the same wrong key, and keeps what it could not send.
                let replay = await cli.run(
                    ["replay", tmp.path + "/dead.jsonl", "--endpoint", endpoint, "--write-key-file", keyFile])
                #expect(replay.status == 2, "stderr: \(replay.stderr)")
                #expect(
                    replay.stderr.contains(
                        "error: the Ingest API refused the write key (HTTP 401); check --write-key-file \(keyFile)\n"))
                // Every entry is in the output: dead-lettered as an event, or (when the refusal stopped the
                // replay before it read them all) carried over unread, which the summary counts as "more".
                let replayed = JobSummary.numbers(replay.stderr)
                #expect(
                    (replayed["events"] ?? 0) + (replayed["more"] ?? 0) == tmp.lines("dead.retry.jsonl").count,
                    "stderr: \(replay.stderr)")
                #expect(tmp.lines("dead.retry.jsonl").count == tmp.lines("dead.jsonl").count)
                #expect(server.accepted.isEmpty)
            }
        }
    }
}
