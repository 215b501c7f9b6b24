import Foundation
import TestSupport
import Testing

/// `run --jobs N` with the real binary: on a large input, on stdin, and delivering to a real
/// `mock-ingest`, what `--jobs 4` prints, writes and sends is what `--jobs 1` does. The binary,
/// because stdin and the delivery engine are the process's own.
@Suite(.serialized) struct RunJobsEndToEndTests {
    static let key = "e2e-jobs-write-key-9d2e"

    /// Runs `arguments` with `--jobs 1` and `--jobs 4`; expects the same status, stdout, stderr
    /// (but the summary's timings) and dead letters, and returns both results.
    func expectSameRuns(
        _ tmp: TemporaryDirectory, _ arguments: [String], stdinFile: String? = nil, environment: [String: String] = [:],
        extra: () throws -> [String] = { [] }, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [Binary.Result] {
        var results: [Binary.Result] = []
        var deadLetters: [String] = []
        for jobs in [1, 4] {
            let dead = tmp.file("dead.jsonl")
            try? FileManager.default.removeItem(atPath: dead)
            let all = arguments + (try extra()) + ["--jobs", "\(jobs)", "--dead-letter", dead]
            if let stdinFile {
                // Through a shell: the harness would write all of a large stdin before reading stdout.
                results.append(
                    try Binary.run(
                        ["-c", "exec \"$0\" \"$@\" < \"$INPUT\"", Binary.path] + all,
                        environment: environment.merging(["INPUT": stdinFile]) { $1 }, timeout: 300,
                        executable: "/bin/sh"))
            } else {
                results.append(try Binary.run(all, environment: environment, timeout: 300))
            }
            deadLetters.append(JobSummary.deadLettersWithoutRunMembers(tmp.read("dead.jsonl")))
        }
        #expect(results[1].status == results[0].status, sourceLocation: sourceLocation)
        #expect(results[1].stdout == results[0].stdout, sourceLocation: sourceLocation)
        #expect(
            JobSummary.withoutTimings(results[1].stderr) == JobSummary.withoutTimings(results[0].stderr),
            sourceLocation: sourceLocation)
        #expect(deadLetters[1] == deadLetters[0], sourceLocation: sourceLocation)
        #expect(!deadLetters[0].isEmpty, sourceLocation: sourceLocation)
        return results
    }

    @Test(.timeLimit(.minutes(5)))
    func aHundredThousandRecordsWithFailuresSkipsAndBadLines() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", MixedRecords.rule)
        let input = try MixedRecords.write(tmp, "in.jsonl", MixedRecords.jsonLines(100_000))
        let results = try expectSameRuns(tmp, ["run", rules, input, "--dry-run"])
        let counts = JobSummary.numbers(
            String(results[0].stderr.split(separator: "\n").last { $0.hasPrefix("done:") } ?? ""))
        #expect(results[0].status == 1)
        #expect(counts["records"] == 100_000)
        #expect((counts["skipped"] ?? 0) > 1000 && (counts["failed"] ?? 0) > 1000)
    }

    @Test(.timeLimit(.minutes(3)))
    func stdin() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", MixedRecords.rule)
        let input = try MixedRecords.write(tmp, "in.jsonl", MixedRecords.jsonLines(20_000))
        let results = try expectSameRuns(tmp, ["run", rules, "-", "--dry-run"], stdinFile: input)
        #expect(results[0].stderr.contains("stdin:97: error: invalid JSON"))
    }

    /// Delivering with one request in flight, the mock receives every event in the same order.
    @Test(.timeLimit(.minutes(5)))
    func deliveryOrderIsTheSame() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", MixedRecords.rule)
        let input = try MixedRecords.write(tmp, "in.jsonl", MixedRecords.jsonLines(3000))
        var mocks: [MockIngestProcess] = []
        defer { mocks.forEach { $0.stop() } }
        _ = try expectSameRuns(
            tmp, ["run", rules, input, "--concurrency", "1", "--quiet"], environment: ["ENCHARGE_WRITE_KEY": Self.key]
        ) {
            mocks.append(try MockIngestProcess(["--write-key", Self.key], in: tmp))
            return ["--endpoint", mocks.last!.endpoint]
        }
        let received = mocks.map { (try? String(contentsOfFile: $0.recordPath, encoding: .utf8)) ?? "" }
        #expect(received.count == 2)
        #expect(received[1] == received[0])
        #expect(received[0].split(separator: "\n").count > 3000)
    }

    /// A call stuck in C ends the run at its record, as with one job: what records before it
    /// emitted is printed, nothing after it, and the summary counts up to it.
    @Test(.timeLimit(.minutes(2)))
    func aStuckCallEndsTheRunAtItsRecord() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              if r.id == 700 then table.move({}, 1, 1e12, 2) end
              encharge.identify{ userId = tostring(r.id) }
            end
            """)
        let input = try tmp.write("in.jsonl", (1...1000).map { "{\"id\":\($0)}\n" }.joined())
        var results: [Binary.Result] = []
        for jobs in [1, 4] {
            results.append(
                try Binary.run(
                    ["run", rules, input, "--dry-run", "--time-limit", "0.3", "--jobs", "\(jobs)"], timeout: 60))
        }
        // The seconds the call ran and the run took differ from run to run.
        let stderr = results.map {
            JobSummary.withoutTimings($0.stderr).replacingOccurrences(
                of: "ran for [0-9.]+ s", with: "ran for N s", options: .regularExpression)
        }
        #expect(results.map(\.status) == [1, 1])
        #expect(results[1].stdout == results[0].stdout)
        #expect(stderr[1] == stderr[0])
        #expect(results[0].stdout.split(separator: "\n").count == 699)
        #expect(stderr[0].contains("rules.lua:2: error: a call of the rule ran for N s"))
        #expect(stderr[0].contains("(record \(input):700)"))
    }

    /// Interrupted part-way through a chunk, a dry run with `--jobs 2` prints the events of exactly
    /// the records it counted, in order, and names the next one as the first not read.
    @Test(.timeLimit(.minutes(2)))
    func anInterruptedDryRunPrintsTheRecordsItCounted() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        // Each call takes a while, so the signal comes long before the end.
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              local x = 0
              for i = 1, 50000 do x = x + i end
              encharge.identify{ userId = tostring(r.id) }
            end
            """)
        let input = try tmp.write("in.jsonl", (1...50_000).map { "{\"id\":\($0)}\n" }.joined())
        let binary = try Binary.launch(["run", rules, input, "--dry-run", "--jobs", "2"])
        try #require(binary.waitForLine(timeout: 60) { !$0.isEmpty } != nil, "stderr: \(binary.stderr)")
        binary.signal()
        let status = binary.wait()
        let stderr = binary.stderr
        #expect(status == 130, "stderr: \(stderr)")
        let records = try #require(JobSummary.numbers(stderr)["records"], "stderr: \(stderr)")
        #expect(records < 50_000)
        let ids = binary.stdout.split(separator: "\n").map { line -> String in
            guard let key = line.range(of: #""userId":""#) else { return String(line) }
            return String(line[key.upperBound...].prefix { $0 != "\"" })
        }
        #expect(ids == (1...records).map { "\($0)" }, "stderr: \(stderr)")
        #expect(stderr.contains("the first record not read is \(input):\(records + 1);"), "stderr: \(stderr)")
    }
}
