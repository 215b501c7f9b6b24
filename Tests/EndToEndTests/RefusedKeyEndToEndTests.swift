import Foundation
import Testing
import TestSupport

/// A wrong write key stops `run` and `replay` (issue 7): they stop reading input, say which key
/// source to check and exit 2, and every event already emitted is dead-lettered, in per-person
/// order, so a replay with the right key sends it.
@Suite(.serialized) struct RefusedKeyEndToEndTests {
    static let key = "e2e-right-key-3f9a"
    static let wrongKey = "e2e-wrong-key-77c0"

    /// `records` records, identify + track each, for 100 people.
    func input(_ tmp: TemporaryDirectory, records: Int) throws -> (rules: String, input: String) {
        let rules = try tmp.write("rules.lua", """
            function on_record(r, ctx)
              encharge.identify{ email = r.email, userId = r.uid }
              encharge.track("Step", { userId = r.uid }, { seq = r.seq })
            end
            """)
        var lines = ""
        for i in 0..<records { lines += "{\"email\":\"p\(i % 100)@example.com\",\"uid\":\"u\(i % 100)\",\"seq\":\(i)}\n" }
        return (rules, try tmp.write("in.jsonl", lines))
    }

    /// The events of JSON lines (dead-letter entries or the mock's record), as objects.
    func events(_ lines: [String]) -> [[String: Any]] {
        lines.compactMap { line -> [String: Any]? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["event"] as? [String: Any] ?? object
        }
    }

    /// Per person, tracks keep increasing `seq`.
    func inPerPersonOrder(_ events: [[String: Any]]) -> Bool {
        var last: [String: Int] = [:]
        for event in events where event["name"] as? String == "Step" {
            guard let uid = (event["user"] as? [String: Any])?["userId"] as? String,
                let seq = (event["properties"] as? [String: Any])?["seq"] as? Int
            else { return false }
            if let previous = last[uid], previous >= seq { return false }
            last[uid] = seq
        }
        return true
    }

    @Test(.timeLimit(.minutes(2)))
    func aRefusedKeyStopsTheRunAndAReplayWithTheRightKeySendsEveryEmittedEvent() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key], in: tmp)
        defer { mock.stop() }
        // 40,000 events: more than the delivery queue, so without the stop the run would read it all.
        let (rules, input) = try input(tmp, records: 20_000)
        let run = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl"],
            environment: ["ENCHARGE_WRITE_KEY": Self.wrongKey])
        #expect(run.status == 2, "stderr: \(run.stderr)")
        #expect(run.stderr.hasSuffix("error: the Ingest API refused the write key (HTTP 401); check ENCHARGE_WRITE_KEY\n"))
        let numbers = DeliveryEndToEndTests.summaryNumbers(run.stderr)
        let records = try #require(numbers["records"])
        #expect(records < 20_000, "the run stopped reading input")
        let dead = tmp.lines("dead.jsonl")
        #expect(numbers["events"] == dead.count, "every emitted event is dead-lettered: \(run.stderr)")
        #expect(dead.allSatisfy { $0.contains("\"reason\":\"the Ingest API refused the write key (HTTP 401)\"") })
        #expect(inPerPersonOrder(events(dead)))
        #expect(!tmp.read("dead.jsonl").contains(Self.wrongKey) && !run.stderr.contains(Self.wrongKey))
        #expect(mock.received().isEmpty)

        let replay = try Binary.run(
            ["replay", tmp.path + "/dead.jsonl", "--endpoint", mock.endpoint],
            environment: ["ENCHARGE_WRITE_KEY": Self.key])
        #expect(replay.status == 0, "stderr: \(replay.stderr)")
        let received = mock.received()
        #expect(received.count == dead.count)
        #expect(inPerPersonOrder(received))
    }

    @Test(.timeLimit(.minutes(1)))
    func theMessageNamesTheWriteKeyFileWhenOneWasUsed() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key], in: tmp)
        defer { mock.stop() }
        let (rules, input) = try input(tmp, records: 20)
        let keyFile = try tmp.write("key.txt", Self.wrongKey + "\n")
        let run = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl",
             "--write-key-file", keyFile],
            removing: ["ENCHARGE_WRITE_KEY"])
        #expect(run.status == 2, "stderr: \(run.stderr)")
        #expect(run.stderr.contains(
            "error: the Ingest API refused the write key (HTTP 401); check --write-key-file \(keyFile)\n"))
        #expect(DeliveryEndToEndTests.summaryNumbers(run.stderr)["events"] == tmp.lines("dead.jsonl").count)

        // replay says the same with the same wrong key, and keeps what it could not send.
        let replay = try Binary.run(
            ["replay", tmp.path + "/dead.jsonl", "--endpoint", mock.endpoint, "--write-key-file", keyFile],
            removing: ["ENCHARGE_WRITE_KEY"])
        #expect(replay.status == 2, "stderr: \(replay.stderr)")
        #expect(replay.stderr.contains(
            "error: the Ingest API refused the write key (HTTP 401); check --write-key-file \(keyFile)\n"))
        // Every entry is in the output: dead-lettered as an event, or (when the refusal stopped the
        // replay before it read them all) carried over unread, which the summary counts as "more".
        let replayed = DeliveryEndToEndTests.summaryNumbers(replay.stderr)
        #expect(
            (replayed["events"] ?? 0) + (replayed["more"] ?? 0) == tmp.lines("dead.retry.jsonl").count,
            "stderr: \(replay.stderr)")
        #expect(tmp.lines("dead.retry.jsonl").count == tmp.lines("dead.jsonl").count)
        #expect(mock.received().isEmpty)
    }
}
