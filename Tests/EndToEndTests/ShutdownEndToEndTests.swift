import Foundation
import Testing
import TestSupport

/// The built binary running in the background, so a test can signal it and time its exit.
final class BackgroundBinary {
    let process = Process()
    private let stderrBox = DataBox()
    private let stderrDone = DispatchGroup()

    init(_ arguments: [String], environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: Binary.path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let handle = err.fileHandleForReading
        stderrDone.enter()
        DispatchQueue.global().async { [stderrBox, stderrDone] in
            stderrBox.set(handle.readDataToEndOfFile())
            stderrDone.leave()
        }
    }

    var isRunning: Bool { process.isRunning }

    func signal(_ number: Int32 = SIGINT) { kill(process.processIdentifier, number) }

    /// Waits for the exit; the status and everything written to stderr.
    func wait() -> (status: Int32, stderr: String) {
        process.waitUntilExit()
        stderrDone.wait()
        return (process.terminationStatus, String(decoding: stderrBox.get(), as: UTF8.self))
    }

    /// How far the process has read the file at `path` (Linux `/proc/PID/fdinfo`), nil when it
    /// has no descriptor open on it.
    func readOffset(of path: String) -> Int? {
        let pid = process.processIdentifier
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return nil }
        for descriptor in descriptors {
            guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)"),
                link == target,
                let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(descriptor)", encoding: .utf8),
                let line = info.split(separator: "\n").first(where: { $0.hasPrefix("pos:") })
            else { continue }
            return Int(line.dropFirst(4).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Waits until the process has read part of `path` and then stops reading it for 0.7 s: it is
    /// blocked (on a full delivery queue). False if that did not happen within `timeout`.
    func waitUntilBlockedReading(_ path: String, timeout: Duration = .seconds(60)) async -> Bool {
        var last: Int?
        var unchangedSince = ContinuousClock.now
        return await eventually("the process blocks reading \(path)", timeout: timeout, interval: .milliseconds(50)) {
            let offset = readOffset(of: path)
            if offset != last {
                last = offset
                unchangedSince = .now
                return false
            }
            return isRunning && (offset ?? 0) > 0 && ContinuousClock.now - unchangedSince > .milliseconds(700)
        }
    }
}

/// Ctrl-C keeps its word in `run` and `replay` (issue 7): the first SIGINT/SIGTERM stops within
/// `--drain-timeout` even when the queue is full and the endpoint never answers; the second exits
/// at once; either way every emitted event is delivered or dead-lettered.
@Suite(.serialized) struct ShutdownEndToEndTests {
    static let key = "e2e-shutdown-key-81b2"

    /// Stops a mock with requests still hanging: it does not exit on SIGTERM while its handlers
    /// sleep out `--latency-ms`.
    static func kill(_ mock: MockIngestProcess) {
        Foundation.kill(mock.process.processIdentifier, SIGKILL)
        mock.process.waitUntilExit()
    }

    /// 7,000 records, two events each: more than the engine's queue holds (10,000 events), so
    /// against an endpoint that never answers `run` ends up blocked in `submit`.
    func input(_ tmp: TemporaryDirectory) throws -> (rules: String, input: String) {
        let rules = try tmp.write("rules.lua", """
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
            lines += "{\"kind\":\"event\",\"event\":{\"name\":\"Step\",\"user\":{\"userId\":\"u\(i % 300)\"},"
                + "\"properties\":{\"seq\":\(i)}},\"reason\":\"HTTP 503\",\"attempts\":8,\"source\":\"in.jsonl:\(i + 1)\"}\n"
        }
        return try tmp.write("old-dead.jsonl", lines)
    }

    /// Starts `command` against an endpoint that accepts connections and never answers.
    func startAgainstHangingEndpoint(
        _ command: String, _ tmp: TemporaryDirectory, mock: MockIngestProcess, drainTimeout: Int
    ) throws -> (binary: BackgroundBinary, reading: String) {
        let common = ["--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl", "--concurrency", "4",
                      "--drain-timeout", "\(drainTimeout)", "--request-timeout", "600"]
        if command == "run" {
            let (rules, input) = try input(tmp)
            return (try BackgroundBinary(["run", rules, input] + common, environment: ["ENCHARGE_WRITE_KEY": Self.key]), input)
        }
        let input = try deadLetterInput(tmp)
        return (try BackgroundBinary(["replay", input] + common, environment: ["ENCHARGE_WRITE_KEY": Self.key]), input)
    }

    @Test(.timeLimit(.minutes(2)), arguments: ["run", "replay"])
    func firstSignalWithAFullQueueStopsWithinTheDrainTimeout(command: String) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key, "--latency-ms", "600000"], in: tmp)
        defer { Self.kill(mock) }
        let (binary, reading) = try startAgainstHangingEndpoint(command, tmp, mock: mock, drainTimeout: 2)
        try #require(await binary.waitUntilBlockedReading(reading), "\(command) never blocked on the full queue")
        let signalled = Date()
        binary.signal(SIGTERM)
        let (status, stderr) = binary.wait()
        let elapsed = Date().timeIntervalSince(signalled)
        #expect(status == 130, "stderr: \(stderr)")
        #expect(elapsed < 2 + 3, "took \(elapsed) s after the signal with --drain-timeout 2")
        let numbers = DeliveryEndToEndTests.summaryNumbers(stderr)
        // A replay also carries the entries it did not read over to its output (issue 7), after the
        // ones it dead-lettered, so per-person order holds; a run names the first record it did not read.
        let carried = numbers["more"] ?? 0
        let dead = tmp.lines("dead.jsonl")
        let lettered = Array(dead.dropLast(carried))
        #expect(numbers["events"].map { $0 > 0 && $0 == mock.received().count + lettered.count } == true, "stderr: \(stderr)")
        #expect(numbers["dead-lettered"] == lettered.count)
        #expect(lettered.allSatisfy { $0.contains("\"reason\":\"interrupted\"") })
        if command == "replay" {
            #expect(carried > 0 && numbers["entries"].map { $0 + carried } == 14000, "stderr: \(stderr)")
            #expect(dead.suffix(carried).allSatisfy { $0.contains("\"reason\":\"HTTP 503\"") })
        } else {
            let records = try #require(numbers["records"])
            #expect(stderr.contains(
                "error: the run stopped before reading all input: the first record not read is \(reading):\(records + 1); "
                    + "after fixing the cause, run again from there\n"), "stderr: \(stderr)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func secondSignalExitsAtOnceAfterDeadLetteringWhatIsUndelivered() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key, "--latency-ms", "600000"], in: tmp)
        defer { Self.kill(mock) }
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
        let (status, stderr) = binary.wait()
        let elapsed = Date().timeIntervalSince(signalled)
        #expect(status == 130, "stderr: \(stderr)")
        #expect(elapsed < 5, "took \(elapsed) s after the first signal with --drain-timeout 600")
        let numbers = DeliveryEndToEndTests.summaryNumbers(stderr)
        let dead = tmp.lines("dead.jsonl")
        #expect(numbers["events"].map { $0 > 0 && $0 == mock.received().count + dead.count } == true, "stderr: \(stderr)")
    }
}
