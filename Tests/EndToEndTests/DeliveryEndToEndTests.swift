import Foundation
import TestSupport
import Testing

/// `encharge-lua run` delivering to `mock-ingest` over real loopback HTTP.
@Suite(.serialized) struct DeliveryEndToEndTests {
    static let key = "e2e-secret-write-key-5c1f"

    /// A rule where every record emits identify + a numbered track for one of `people` persons.
    func orderedInput(_ tmp: TemporaryDirectory, records: Int, people: Int) throws -> (rules: String, input: String) {
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
            let person = i % people
            lines += "{\"email\":\"p\(person)@example.com\",\"uid\":\"u\(person)\",\"seq\":\(i)}\n"
        }
        return (rules, try tmp.write("in.jsonl", lines))
    }

    /// Per person, the track events arrive in increasing `seq`, and each identify comes before
    /// the track of the same record.
    func checkOrder(_ events: [[String: Any]]) -> Bool {
        var lastSeq: [String: Int] = [:]
        var identified: [String: Int] = [:]
        var tracks: [String: Int] = [:]
        for event in events {
            let user = event["user"] as? [String: Any] ?? [:]
            guard let uid = user["userId"] as? String else { return false }
            if event["name"] as? String == "identify" {
                identified[uid, default: 0] += 1
                continue
            }
            let seq = (event["properties"] as? [String: Any])?["seq"] as? Int ?? -1
            if let last = lastSeq[uid], last >= seq { return false }
            // The identify of this record (one per track) must already be there.
            tracks[uid, default: 0] += 1
            if identified[uid, default: 0] < tracks[uid]! { return false }
            lastSeq[uid] = seq
        }
        return true
    }

    // The real binary: the write key never appears in what the process prints.
    @Test(.timeLimit(.minutes(2)))
    func flakyRateLimitedServerStillGetsEveryEventInOrder() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(
            [
                "--write-key", Self.key, "--fail-rate", "0.1", "--drop-rate", "0.05", "--rate-limit", "1500", "--seed",
                "7",
            ], in: tmp)
        defer { mock.stop() }
        let (rules, input) = try orderedInput(tmp, records: 1000, people: 50)
        let result = try Binary.run(
            [
                "run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl",
                "--backoff-base", "0.01", "--backoff-cap", "0.2", "--request-timeout", "5", "--max-attempts", "30",
            ],
            environment: ["ENCHARGE_WRITE_KEY": Self.key])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let events = mock.received()
        #expect(events.count == 2000)
        #expect(checkOrder(events))
        #expect(tmp.read("dead.jsonl").isEmpty)
        #expect(result.stderr.contains("2000 delivered"))
        #expect(!result.stdout.contains(Self.key) && !result.stderr.contains(Self.key))
    }

    // The real binary: a refused key never appears in what the process prints.
    @Test(.timeLimit(.minutes(2)))
    func terminalErrorsAreDeadLetteredAndReplayDeliversThem() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key], in: tmp)
        defer { mock.stop() }
        let (rules, input) = try orderedInput(tmp, records: 20, people: 5)
        // A wrong key: the mock answers 401, a terminal 4xx. Issue 7: a refused key stops the run
        // (exit 2) once three answers in a row refused it; every event emitted is dead-lettered.
        let wrongKey = "wrong-key-9d2e"
        let failed = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl"],
            environment: ["ENCHARGE_WRITE_KEY": wrongKey])
        #expect(failed.status == 2)
        let dead = tmp.lines("dead.jsonl")
        #expect(dead.count == JobSummary.numbers(failed.stderr)["events"] && dead.count > 0)
        let entry = try JSONSerialization.jsonObject(with: Data(dead[0].utf8)) as! [String: Any]
        #expect(entry["kind"] as? String == "event")
        #expect(entry["status"] as? Int == 401)
        #expect(entry["attempts"] as? Int == 1)
        #expect(entry["dry_run"] as? Bool == false)
        #expect((entry["run_id"] as? String)?.isEmpty == false)
        #expect(!tmp.read("dead.jsonl").contains(wrongKey))
        #expect(!failed.stderr.contains(wrongKey))
        #expect(mock.received().isEmpty)

        // Fixed: the right key. Replay sends every dead-lettered event, in order.
        let replayed = try Binary.run(
            ["replay", tmp.path + "/dead.jsonl", "--endpoint", mock.endpoint],
            environment: ["ENCHARGE_WRITE_KEY": Self.key])
        #expect(replayed.status == 0, "stderr: \(replayed.stderr)")
        let events = mock.received()
        #expect(events.count == dead.count)
        #expect(checkOrder(events))
        #expect(tmp.lines("dead.jsonl").count == dead.count, "replay never edits its input")
    }

    // A real process: SIGINT.
    @Test(.timeLimit(.minutes(2)))
    func interruptDrainsAndAccountsForEveryEvent() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key, "--latency-ms", "20"], in: tmp)
        defer { mock.stop() }
        let (rules, input) = try orderedInput(tmp, records: 3000, people: 100)
        let run = try Binary.launch(
            [
                "run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl",
                "--concurrency", "4", "--drain-timeout", "2",
            ],
            environment: ["ENCHARGE_WRITE_KEY": Self.key])
        // Interrupt mid-run: some events are delivered, most are not yet.
        await eventually("the run delivers its first events") { !mock.received().isEmpty }
        run.signal(SIGINT)
        let status = run.wait()
        let stderr = run.stderr
        #expect(status == 130, "stderr: \(stderr)")
        // The summary: "interrupted: R records: ...; E events; D delivered, X retried, L dead-lettered".
        let numbers = JobSummary.numbers(stderr)
        let delivered = mock.received().count
        let dead = tmp.lines("dead.jsonl").count
        #expect(delivered > 0 && delivered < 6000)
        #expect(numbers["events"] == delivered + dead, "every emitted event is delivered or dead-lettered: \(stderr)")
        #expect(numbers["delivered"] == delivered)
        #expect(numbers["dead-lettered"] == dead)
    }

}
