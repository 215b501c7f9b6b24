import Foundation
import TestSupport
import Testing

/// Dead letters as a user meets them through the binary: each run's entries carry its own run id,
/// and the hint after a run can be pasted into a shell.
@Suite struct DeadLetterEndToEndTests {
    static let key = "dead-letter-e2e-key-41ab"

    // Runs the binary twice, as a user does: each run's entries carry its own run id
    // (`DeadLetterContext.newRunID()`), checked across two processes.
    @Test func dryRunEntriesAreMarkedAndReplayRefusesThemButReplaysTheRest() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, fixed, input) = try failingRun(tmp)
        let dead = tmp.path + "/dead.jsonl"
        let dry = try Binary.run(["run", rules, input, "--dry-run", "--dead-letter", dead])
        #expect(dry.status == 1)
        #expect(
            dry.stderr.contains(
                "1 entry written to \(dead) by this dry run, marked dry_run: what a real run would fail, not for replay; "
                    + "fix the cause, then run again without --dry-run"))
        #expect(!dry.stderr.contains("encharge-lua replay"), "a dry run never suggests a replay")
        // A second dry run appends its own entry under its own run id.
        _ = try Binary.run(["run", rules, input, "--dry-run", "--dead-letter", dead])
        let written = try JobSummary.entries(dead)
        try #require(written.count == 2)
        #expect(written.allSatisfy { $0["dry_run"] as? Bool == true })
        let runIDs = written.compactMap { $0["run_id"] as? String }
        #expect(runIDs.count == 2 && runIDs[0] != runIDs[1], "one run id per process: \(runIDs)")

        // A real entry among them (as a real run writes it) is replayed; the dry-run ones are refused.
        var real = written[0]
        real["dry_run"] = false
        real["record"] = ["mail": "real@x.io"]
        let line = String(decoding: try JSONSerialization.data(withJSONObject: real), as: UTF8.self)
        try (tmp.read("dead.jsonl") + line + "\n").write(toFile: dead, atomically: true, encoding: .utf8)
        let replay = try Binary.run(["replay", dead, "--rules", fixed, "--dry-run"])
        #expect(replay.status == 1, "refused entries are not a success: \(replay.stderr)")
        #expect(JobSummary.emails(replay.stdout) == ["real@x.io"])
        #expect(
            replay.stderr.contains(
                "error: 2 entries of \(dead) came from a --dry-run and were not replayed, since a dry run sends nothing; "
                    + "run the input again without --dry-run to send it"))
        #expect(
            replay.stderr.contains("replay done: 3 entries: 1 with events, 0 skipped, 0 failed, 2 refused (dry run)"))
    }

    // Needs the real binary: the hint is a shell command, and /bin/sh runs the binary it names.
    @Test(.timeLimit(.minutes(1)))
    func hintAfterARealRunIsACommandThatWorksWhenPasted() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key], in: tmp)
        defer { mock.stop() }
        let (rules, fixed, input) = try failingRun(tmp)
        try FileManager.default.createDirectory(atPath: tmp.path + "/it's here", withIntermediateDirectories: true)
        let dead = tmp.path + "/it's here/dead letters.jsonl"
        let environment = ["ENCHARGE_WRITE_KEY": Self.key, "ENCHARGE_ENDPOINT": mock.endpoint]
        let first = try Binary.run(["run", rules, input, "--dead-letter", dead], environment: environment)
        #expect(first.status == 1)
        let quoted = "'" + dead.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
        let expected =
            "1 entry written to \(quoted); fix the cause and run `encharge-lua replay \(quoted) --rules \(rules)`"
        #expect(first.stderr.contains(expected), "stderr: \(first.stderr)")

        // Paste it, with the fixed rule in place of the broken one, into a shell.
        let hint = try #require(first.stderr.split(separator: "\n").first { $0.contains("encharge-lua replay") })
        let command = try #require(hint.split(separator: "`").dropFirst().first)
        try FileManager.default.removeItem(atPath: rules)
        try FileManager.default.copyItem(atPath: fixed, toPath: rules)
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "exec \"$ENCHARGE_LUA\" " + command.dropFirst("encharge-lua ".count)]
        shell.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            .merging(["ENCHARGE_LUA": Binary.path]) { $1 }
        shell.standardOutput = FileHandle.nullDevice
        shell.standardError = FileHandle.nullDevice
        try shell.run()
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0, "command: \(command)")
        #expect(
            mock.received().compactMap { ($0["user"] as? [String: Any])?["email"] as? String }
                == ["a@x.io", "c@x.io", "b@x.io"])
    }
}
