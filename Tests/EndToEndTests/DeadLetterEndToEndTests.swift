import Foundation
import Testing
import TestSupport

/// What `run` and `replay` do with dead letters, as a user meets it through the binary: dry runs
/// never feed a replay, the hint after a run can be pasted, replay never writes its own input and
/// survives a corrupt line.
@Suite struct DeadLetterEndToEndTests {
    static let key = "dead-letter-e2e-key-41ab"

    /// A rule that fails records without an email, plus the input: two good, one bad.
    func failingRun(_ tmp: TemporaryDirectory) throws -> (rules: String, fixed: String, input: String) {
        let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
        let fixed = try tmp.write("fixed.lua", "function on_record(r) encharge.identify{ email = r.email or r.mail } end")
        let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n{\"mail\":\"b@x.io\"}\n{\"email\":\"c@x.io\"}\n")
        return (rules, fixed, input)
    }

    func entries(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func emails(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").compactMap {
            let event = try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            return (event?["user"] as? [String: Any])?["email"] as? String
        }
    }

    // MARK: A dry run never feeds a later replay

    @Test func dryRunWritesNoDeadLetterFileUnlessAsked() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, _, input) = try failingRun(tmp)
        let result = try Binary.run(["run", rules, input, "--dry-run"], directory: tmp.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: identify: user needs email or userId"), "the failure is on stderr")
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/dead-letter.jsonl"))
        #expect(!result.stderr.contains("written to"), "no hint about a file that was not written: \(result.stderr)")
    }

    @Test func dryRunEntriesAreMarkedAndReplayRefusesThemButReplaysTheRest() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, fixed, input) = try failingRun(tmp)
        let dead = tmp.path + "/dead.jsonl"
        let dry = try Binary.run(["run", rules, input, "--dry-run", "--dead-letter", dead])
        #expect(dry.status == 1)
        #expect(dry.stderr.contains(
            "1 entry written to \(dead) by this dry run, marked dry_run: what a real run would fail, not for replay; "
                + "fix the cause, then run again without --dry-run"))
        #expect(!dry.stderr.contains("encharge-lua replay"), "a dry run never suggests a replay")
        // A second dry run appends its own entry under its own run id.
        _ = try Binary.run(["run", rules, input, "--dry-run", "--dead-letter", dead])
        let written = try entries(dead)
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
        #expect(emails(replay.stdout) == ["real@x.io"])
        #expect(replay.stderr.contains(
            "error: 2 entries of \(dead) came from a --dry-run and were not replayed, since a dry run sends nothing; "
                + "run the input again without --dry-run to send it"))
        #expect(replay.stderr.contains("replay done: 3 entries: 1 with events, 0 skipped, 0 failed, 2 refused (dry run)"))
    }

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
        let expected = "1 entry written to \(quoted); fix the cause and run `encharge-lua replay \(quoted) --rules \(rules)`"
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
        #expect(mock.received().compactMap { ($0["user"] as? [String: Any])?["email"] as? String }
            == ["a@x.io", "c@x.io", "b@x.io"])
    }

    @Test func noHintForDevNull() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, _, input) = try failingRun(tmp)
        let result = try Binary.run(["run", rules, input, "--dry-run", "--dead-letter", "/dev/null"])
        #expect(result.status == 1)
        #expect(!result.stderr.contains("written to"), "stderr: \(result.stderr)")
    }

    // MARK: The summary adds up

    @Test func summaryOutcomesAddUpToTheRecords() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", """
            function on_record(r)
              if r.k == "skip" then return encharge.skip("not wanted") end
              if r.k == "none" then return end
              encharge.identify{ email = r.email }
              encharge.track("Seen", { email = r.email })
            end
            """)
        let input = try tmp.write("in.jsonl", """
            {"email":"a@x.io"}
            {"k":"none"}
            {"k":"none"}
            {"k":"skip"}
            {"k":"bad"}

            """)
        let result = try Binary.run(["run", rules, input, "--dry-run"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("done: 5 records: 1 with events, 2 with none, 1 skipped, 1 failed; 2 events in"),
                "stderr: \(result.stderr)")
    }

    @Test(arguments: ["missing.jsonl", "folder.jsonl"])
    func unreadableInputIsAnInputErrorAndNothingRuns(name: String) throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, _, input) = try failingRun(tmp)
        try FileManager.default.createDirectory(atPath: tmp.path + "/folder.jsonl", withIntermediateDirectories: true)
        let bad = tmp.path + "/" + name
        let result = try Binary.run(["run", rules, input, bad, "--dry-run", "--dead-letter", tmp.path + "/dead.jsonl"])
        #expect(result.status == 2)
        let reason = name == "missing.jsonl" ? "No such file or directory" : "it is a directory"
        #expect(result.stderr == "error: cannot read \(bad): \(reason); check the path\n")
        #expect(result.stdout.isEmpty, "inputs are checked before the first record")
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/dead.jsonl"))
    }

    @Test func inputThatFailsPartWayIsAnInputErrorNotAFailedRecord() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, _, _) = try failingRun(tmp)
        let csv = tmp.path + "/bad.csv"
        try Data([0x65, 0x6D, 0xFF, 0x0A, 0x61, 0x0A]).write(to: URL(fileURLWithPath: csv))  // header "em\xFF"
        let good = try tmp.write("good.jsonl", "{\"email\":\"a@x.io\"}\n")
        let result = try Binary.run(["run", rules, csv, good, "--dry-run"])
        #expect(result.status == 2, "stderr: \(result.stderr)")
        #expect(emails(result.stdout) == ["a@x.io"], "the other inputs still run")
        #expect(result.stderr.contains("\(csv):1: error: "))
        #expect(result.stderr.contains(
            "done: 1 record: 1 with events, 0 skipped, 0 failed; 1 event; 1 input not read to the end in "))
    }

    @Test(.timeLimit(.minutes(1)))
    func elapsedTimeIncludesDelivery() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key, "--latency-ms", "400"], in: tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
        let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n{\"email\":\"a@x.io\"}\n{\"email\":\"a@x.io\"}\n")
        let result = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl"],
            environment: ["ENCHARGE_WRITE_KEY": Self.key])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        // One person, so the three requests go one after another: at least 1.2 s of delivery.
        let match = try #require(result.stderr.firstMatch(of: /\ in (\d+\.\d+) s \((\d+) records\/s\)/))
        let seconds = try #require(Double(match.1))
        #expect(seconds >= 1.2, "stderr: \(result.stderr)")
        let rate = try #require(Int(match.2))
        #expect(rate <= 3)
    }

    // MARK: Dead-letter files

    @Test(.timeLimit(.minutes(1)), arguments: ["/nonexistent-dir-e2e/dead.jsonl", "DIRECTORY"])
    func unwritableDeadLetterPathStopsTheRunBeforeTheFirstRecord(path: String) throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key], in: tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
        let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n")
        let deadLetter = path == "DIRECTORY" ? tmp.path : path
        let result = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", deadLetter],
            environment: ["ENCHARGE_WRITE_KEY": Self.key])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: cannot write the dead-letter file \(deadLetter): "))
        #expect(result.stderr.hasSuffix("; pass a writable --dead-letter PATH\n"), "stderr: \(result.stderr)")
        #expect(mock.received().isEmpty, "nothing is sent when failures could not be kept")
    }

    enum OtherName: String, CaseIterable { case dotSlash, absolute, symlink, hardLink }

    @Test(arguments: OtherName.allCases)
    func replayNeverAppendsToTheFileItReads(other: OtherName) throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, _, input) = try failingRun(tmp)
        let dead = tmp.path + "/dead.jsonl"
        _ = try Binary.run(["run", rules, input, "--dry-run", "--dead-letter", dead])
        // Make it a real entry so the replay would fail it again (the same broken rule) and write it.
        let original = tmp.read("dead.jsonl").replacingOccurrences(of: "\"dry_run\":true", with: "\"dry_run\":false")
        try original.write(toFile: dead, atomically: true, encoding: .utf8)
        let output: String
        switch other {
        case .dotSlash: output = "./dead.jsonl"
        case .absolute: output = dead
        case .symlink:
            output = tmp.path + "/link.jsonl"
            try FileManager.default.createSymbolicLink(atPath: output, withDestinationPath: "dead.jsonl")
        case .hardLink:
            output = tmp.path + "/hard.jsonl"
            try FileManager.default.linkItem(atPath: dead, toPath: output)
        }
        // A replay that appends to its own input reads its own output forever; stop it after 20 s.
        let replay = Process()
        replay.executableURL = URL(fileURLWithPath: Binary.path)
        replay.arguments = ["replay", "dead.jsonl", "--rules", rules, "--dry-run", "--dead-letter", output]
        replay.currentDirectoryURL = URL(fileURLWithPath: tmp.path)
        replay.standardOutput = FileHandle.nullDevice
        let stderrPath = try tmp.write("stderr.txt", "")
        replay.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        let exited = DispatchSemaphore(value: 0)
        replay.terminationHandler = { _ in exited.signal() }
        try replay.run()
        if exited.wait(timeout: .now() + 20) == .timedOut {
            replay.terminate()
            exited.wait()
            Issue.record("replay was still appending to its own input after 20 s")
        }
        #expect(replay.terminationStatus == 2)
        #expect(tmp.read("stderr.txt").contains("is the file being replayed (dead.jsonl); replay never appends to its input"))
        #expect(tmp.read("dead.jsonl") == original)
    }

    @Test func oneCorruptLineIsReportedAndTheRestReplayed() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let entry = { (email: String) in
            #"{"kind":"event","event":{"name":"identify","user":{"email":"\#(email)"}},"reason":"HTTP 500","attempts":8,"source":"in.jsonl:1"}"#
        }
        let dead = try tmp.write("dead.jsonl", entry("a@x.io") + "\n{\"kind\":\"event\",\"ev\n" + entry("c@x.io") + "\n")
        let result = try Binary.run(["replay", dead, "--dry-run"])
        #expect(result.status == 1)
        #expect(emails(result.stdout) == ["a@x.io", "c@x.io"])
        #expect(result.stderr.contains("\(dead):2: error: not a dead-letter entry (invalid JSON"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("); the line is skipped and the rest replayed"))
        #expect(result.stderr.contains("replay done: 3 entries: 2 with events, 0 skipped, 1 failed"))
    }

    @Test func longRuleErrorsAreCappedOnStderrAndInTheDeadLetter() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", "function on_record(r) error(string.rep('x', 10000)) end")
        let input = try tmp.write("in.jsonl", "{}\n")
        let dead = tmp.path + "/dead.jsonl"
        let result = try Binary.run(["run", rules, input, "--dry-run", "--dead-letter", dead])
        #expect(result.status == 1)
        let line = try #require(result.stderr.split(separator: "\n").first { $0.contains("xxxx") })
        #expect(line.utf8.count < 4200)
        #expect(line.contains("… (") && line.contains(" bytes more)"))
        let error = try #require(try entries(dead).first?["error"] as? String)
        #expect(error.utf8.count < 4200)
        #expect(error.hasSuffix(" bytes more)"))
    }

    @Test func deadLetterFilesAreCreatedOwnerOnly() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, _, input) = try failingRun(tmp)
        let dead = tmp.path + "/dead.jsonl"
        _ = try Binary.run(["run", rules, input, "--dry-run", "--dead-letter", dead])
        let attributes = try FileManager.default.attributesOfItem(atPath: dead)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
