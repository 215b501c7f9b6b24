import Foundation
import TestSupport
import Testing

// A real process: SIGINT/SIGTERM and a second signal.
/// Ctrl-C keeps its word in `run` and `replay` (issue 7): the first SIGINT/SIGTERM stops within
/// `--drain-timeout` even when the queue is full and the endpoint never answers; the second exits
/// at once; either way every emitted event is delivered or dead-lettered.
@Suite(.serialized) struct ShutdownEndToEndTests {
    static let key = "e2e-shutdown-key-81b2"

    /// 7,000 records, two events each: more than the engine's queue holds (10,000 events), so
    /// against an endpoint that never answers `run` ends up blocked in `submit`.
    func input(_ tmp: TemporaryDirectory) throws -> (rules: String, input: String) {
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              encharge.identify{ email = r.email, userId = r.uid }
              encharge.track("Step", { userId = r.uid }, { seq = r.seq })
            end
            """)
        var lines = ""
        for i in 0..<7000 { lines += "{\"email\":\"p\(i % 300)@example.com\",\"uid\":\"u\(i % 300)\",\"seq\":\(i)}\n" }
        return (rules, try tmp.write("in.jsonl", lines))
    }

    /// A dead-letter file of 14,000 event entries, for `replay`.
    func deadLetterInput(_ tmp: TemporaryDirectory) throws -> String {
        var lines = ""
        for i in 0..<14000 {
            lines +=
                "{\"kind\":\"event\",\"event\":{\"name\":\"Step\",\"user\":{\"userId\":\"u\(i % 300)\"},"
                + "\"properties\":{\"seq\":\(i)}},\"reason\":\"HTTP 503\",\"attempts\":8,\"source\":\"in.jsonl:\(i + 1)\"}\n"
        }
        return try tmp.write("old-dead.jsonl", lines)
    }

    /// Starts `command` against an endpoint that accepts connections and never answers.
    func startAgainstHangingEndpoint(
        _ command: String, _ tmp: TemporaryDirectory, mock: MockIngestProcess, drainTimeout: Int
    ) throws -> (binary: RunningBinary, reading: String) {
        let common = [
            "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl", "--concurrency", "4",
            "--drain-timeout", "\(drainTimeout)", "--request-timeout", "600",
        ]
        if command == "run" {
            let (rules, input) = try input(tmp)
            return (
                try Binary.launch(["run", rules, input] + common, environment: ["ENCHARGE_WRITE_KEY": Self.key]), input
            )
        }
        let input = try deadLetterInput(tmp)
        return (try Binary.launch(["replay", input] + common, environment: ["ENCHARGE_WRITE_KEY": Self.key]), input)
    }

    @Test(.timeLimit(.minutes(2)), arguments: ["run", "replay"])
    func firstSignalWithAFullQueueStopsWithinTheDrainTimeout(command: String) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key, "--latency-ms", "600000"], in: tmp)
        defer { mock.kill9() }
        let (binary, reading) = try startAgainstHangingEndpoint(command, tmp, mock: mock, drainTimeout: 2)
        try #require(await binary.waitUntilBlockedReading(reading), "\(command) never blocked on the full queue")
        let signalled = Date()
        binary.signal(SIGTERM)
        let status = binary.wait()
        let stderr = binary.stderr
        let elapsed = Date().timeIntervalSince(signalled)
        #expect(status == 130, "stderr: \(stderr)")
        #expect(elapsed < 2 + 3, "took \(elapsed) s after the signal with --drain-timeout 2")
        let numbers = JobSummary.numbers(stderr)
        // A replay also carries the entries it did not read over to its output (issue 7), after the
        // ones it dead-lettered, so per-person order holds; a run names the first record it did not read.
        let carried = numbers["more"] ?? 0
        let dead = tmp.lines("dead.jsonl")
        let lettered = Array(dead.dropLast(carried))
        #expect(
            numbers["events"].map { $0 > 0 && $0 == mock.received().count + lettered.count } == true,
            "stderr: \(stderr)")
        #expect(numbers["dead-lettered"] == lettered.count)
        #expect(lettered.allSatisfy { $0.contains("\"reason\":\"interrupted\"") })
        if command == "replay" {
            #expect(carried > 0 && numbers["entries"].map { $0 + carried } == 14000, "stderr: \(stderr)")
            #expect(dead.suffix(carried).allSatisfy { $0.contains("\"reason\":\"HTTP 503\"") })
        } else {
            let records = try #require(numbers["records"])
            #expect(
                stderr.contains(
                    "error: the run stopped before reading all input: the first record not read is \(reading):\(records + 1); "
                        + "after fixing the cause, run again from there\n"), "stderr: \(stderr)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func secondSignalExitsAtOnceAfterDeadLetteringWhatIsUndelivered() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key, "--latency-ms", "600000"], in: tmp)
        defer { mock.kill9() }
        let (binary, reading) = try startAgainstHangingEndpoint("run", tmp, mock: mock, drainTimeout: 600)
        try #require(await binary.waitUntilBlockedReading(reading), "run never blocked on the full queue")
        let signalled = Date()
        binary.signal()
        // A second signal sent before the first was handled would merge with it: repeat until it exits.
        await eventually("a repeated signal ends the run", timeout: .seconds(30), interval: .milliseconds(200)) {
            guard binary.isRunning else { return true }
            binary.signal()
            return false
        }
        let status = binary.wait()
        let stderr = binary.stderr
        let elapsed = Date().timeIntervalSince(signalled)
        #expect(status == 130, "stderr: \(stderr)")
        #expect(elapsed < 5, "took \(elapsed) s after the first signal with --drain-timeout 600")
        let numbers = JobSummary.numbers(stderr)
        let dead = tmp.lines("dead.jsonl")
        #expect(
            numbers["events"].map { $0 > 0 && $0 == mock.received().count + dead.count } == true, "stderr: \(stderr)")
    }
}
