import EnchargeCommands
import Foundation
import MockIngest
import TestSupport
import Testing

/// What `run` and `replay` do with dead letters, as a user meets them on the command line: dry
/// runs never feed a replay, replay never writes its own input and survives a corrupt line, and
/// the summary adds up.
@Suite(.serialized) struct DeadLetterCommandTests {
    static let key = "dead-letter-e2e-key-41ab"

    // MARK: A dry run never feeds a later replay

    @Test func dryRunWritesNoDeadLetterFileUnlessAsked() async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, _, input) = try failingRun(tmp)
            // Without --dead-letter a real run writes `dead-letter.jsonl` in the working directory.
            let defaultFile = FileManager.default.currentDirectoryPath + "/dead-letter.jsonl"
            try #require(!FileManager.default.fileExists(atPath: defaultFile), "left over: \(defaultFile)")
            let result = await InProcessCommandLine().run(["run", rules, input, "--dry-run"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("error: identify: user needs email or userId"), "the failure is on stderr")
            #expect(!FileManager.default.fileExists(atPath: defaultFile))
            #expect(
                !result.stderr.contains("written to"), "no hint about a file that was not written: \(result.stderr)")
        }
    }

    @Test func noHintForDevNull() async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, _, input) = try failingRun(tmp)
            let result = await InProcessCommandLine().run([
                "run", rules, input, "--dry-run", "--dead-letter", "/dev/null",
            ])
            #expect(result.status == 1)
            #expect(!result.stderr.contains("written to"), "stderr: \(result.stderr)")
        }
    }

    // MARK: The summary adds up

    @Test func summaryOutcomesAddUpToTheRecords() async throws {
        try await TemporaryDirectory.with { tmp in
            let rules = try tmp.write(
                "rules.lua",
                """
                function on_record(r)
                  if r.k == "skip" then return encharge.skip("not wanted") end
                  if r.k == "none" then return end
                  encharge.identify{ email = r.email }
                  encharge.track("Seen", { email = r.email })
                end
                """)
            let input = try tmp.write(
                "in.jsonl",
                """
                {"email":"a@x.io"}
                {"k":"none"}
                {"k":"none"}
                {"k":"skip"}
                {"k":"bad"}

                """)
            let result = await InProcessCommandLine().run(["run", rules, input, "--dry-run"])
            #expect(result.status == 1)
            #expect(
                result.stderr.contains("done: 5 records: 1 with events, 2 with none, 1 skipped, 1 failed; 2 events in"),
                "stderr: \(result.stderr)")
        }
    }

    @Test(arguments: ["missing.jsonl", "folder.jsonl"])
    func unreadableInputIsAnInputErrorAndNothingRuns(name: String) async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, _, input) = try failingRun(tmp)
            try FileManager.default.createDirectory(
                atPath: tmp.path + "/folder.jsonl", withIntermediateDirectories: true)
            let bad = tmp.path + "/" + name
            let result = await InProcessCommandLine().run(
                ["run", rules, input, bad, "--dry-run", "--dead-letter", tmp.path + "/dead.jsonl"])
            #expect(result.status == 2)
            let reason = name == "missing.jsonl" ? "No such file or directory" : "it is a directory"
            #expect(result.stderr == "error: cannot read \(bad): \(reason); check the path\n")
            #expect(result.stdout.isEmpty, "inputs are checked before the first record")
            #expect(!FileManager.default.fileExists(atPath: tmp.path + "/dead.jsonl"))
        }
    }

    @Test func inputThatFailsPartWayIsAnInputErrorNotAFailedRecord() async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, _, _) = try failingRun(tmp)
            let csv = try tmp.write("bad.csv", bytes: [0x65, 0x6D, 0xFF, 0x0A, 0x61, 0x0A])  // header "em\xFF"
            let good = try tmp.write("good.jsonl", "{\"email\":\"a@x.io\"}\n")
            let result = await InProcessCommandLine().run(["run", rules, csv, good, "--dry-run"])
            #expect(result.status == 2, "stderr: \(result.stderr)")
            #expect(JobSummary.emails(result.stdout) == ["a@x.io"], "the other inputs still run")
            #expect(result.stderr.contains("\(csv):1: error: "))
            #expect(
                result.stderr.contains(
                    "done: 1 record: 1 with events, 0 skipped, 0 failed; 1 event; 1 input not read to the end in "))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func elapsedTimeIncludesDelivery() async throws {
        try await TemporaryDirectory.with { tmp in
            let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
            let input = try tmp.write(
                "in.jsonl", "{\"email\":\"a@x.io\"}\n{\"email\":\"a@x.io\"}\n{\"email\":\"a@x.io\"}\n")
            let ingest = MockIngestConfiguration(writeKey: Self.key, latency: .milliseconds(400))
            try await ScriptedIngestServer.with(configuration: ingest) { _, endpoint in
                var cli = InProcessCommandLine()
                cli.environment = ["ENCHARGE_WRITE_KEY": Self.key]
                let result = await cli.run(
                    ["run", rules, input, "--endpoint", endpoint, "--dead-letter", tmp.path + "/dead.jsonl"])
                #expect(result.status == 0, "stderr: \(result.stderr)")
                // One person, so the three requests go one after another: at least 1.2 s of delivery.
                let match = try #require(result.stderr.firstMatch(of: /\ in (\d+\.\d+) s \((\d+) records\/s\)/))
                let seconds = try #require(Double(match.1))
                #expect(seconds >= 1.2, "stderr: \(result.stderr)")
                let rate = try #require(Int(match.2))
                #expect(rate <= 3)
            }
        }
    }

    // MARK: Dead-letter files

    @Test(.timeLimit(.minutes(1)), arguments: ["/nonexistent-dir-e2e/dead.jsonl", "DIRECTORY"])
    func unwritableDeadLetterPathStopsTheRunBeforeTheFirstRecord(path: String) async throws {
        try await TemporaryDirectory.with { tmp in
            let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
            let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n")
            let deadLetter = path == "DIRECTORY" ? tmp.path : path
            let ingest = MockIngestConfiguration(writeKey: Self.key)
            try await ScriptedIngestServer.with(configuration: ingest) { server, endpoint in
                var cli = InProcessCommandLine()
                cli.environment = ["ENCHARGE_WRITE_KEY": Self.key]
                let result = await cli.run(["run", rules, input, "--endpoint", endpoint, "--dead-letter", deadLetter])
                #expect(result.status == 2)
                #expect(result.stderr.hasPrefix("error: cannot write the dead-letter file \(deadLetter): "))
                #expect(result.stderr.hasSuffix("; pass a writable --dead-letter PATH\n"), "stderr: \(result.stderr)")
                #expect(server.received.isEmpty, "nothing is sent when failures could not be kept")
            }
        }
    }

    enum OtherName: String, CaseIterable { case dotSlash, absolute, symlink, hardLink }

    @Test(.timeLimit(.minutes(1)), arguments: OtherName.allCases)
    func replayNeverAppendsToTheFileItReads(other: OtherName) async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, _, input) = try failingRun(tmp)
            let dead = tmp.path + "/dead.jsonl"
            let cli = InProcessCommandLine()
            _ = await cli.run(["run", rules, input, "--dry-run", "--dead-letter", dead])
            // Make it a real entry so the replay would fail it again (the same broken rule) and write it.
            let original = tmp.read("dead.jsonl").replacingOccurrences(
                of: "\"dry_run\":true", with: "\"dry_run\":false")
            try original.write(toFile: dead, atomically: true, encoding: .utf8)
            let output: String
            switch other {
            case .dotSlash: output = tmp.path + "/./dead.jsonl"
            case .absolute: output = dead
            case .symlink:
                output = tmp.path + "/link.jsonl"
                try FileManager.default.createSymbolicLink(atPath: output, withDestinationPath: "dead.jsonl")
            case .hardLink:
                output = tmp.path + "/hard.jsonl"
                try FileManager.default.linkItem(atPath: dead, toPath: output)
            }
            // A replay that appends to its own input reads its own output forever; stop it after 20 s.
            let replay = await withTaskGroup(of: InProcessCommandLine.Result?.self) { group in
                group.addTask {
                    await cli.run(["replay", dead, "--rules", rules, "--dry-run", "--dead-letter", output])
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(20))
                    guard !Task.isCancelled else { return nil }
                    cli.interrupts.interrupt()
                    Issue.record("replay was still appending to its own input after 20 s")
                    return nil
                }
                var replay: InProcessCommandLine.Result?
                for await result in group where result != nil {
                    replay = result
                    group.cancelAll()
                }
                return replay
            }
            let result = try #require(replay)
            #expect(result.status == 2)
            #expect(
                result.stderr.contains(
                    "is the file being replayed (\(dead)); replay never appends to its input"),
                "stderr: \(result.stderr)")
            #expect(tmp.read("dead.jsonl") == original)
        }
    }

    @Test func oneCorruptLineIsReportedAndTheRestReplayed() async throws {
        try await TemporaryDirectory.with { tmp in
            let entry = { (email: String) in
                #"{"kind":"event","event":{"name":"identify","user":{"email":"\#(email)"}},"reason":"HTTP 500","attempts":8,"source":"in.jsonl:1"}"#
            }
            let dead = try tmp.write(
                "dead.jsonl", entry("a@x.io") + "\n{\"kind\":\"event\",\"ev\n" + entry("c@x.io") + "\n")
            let result = await InProcessCommandLine().run(["replay", dead, "--dry-run"])
            #expect(result.status == 1)
            #expect(JobSummary.emails(result.stdout) == ["a@x.io", "c@x.io"])
            #expect(
                result.stderr.contains("\(dead):2: error: not a dead-letter entry (invalid JSON"),
                "stderr: \(result.stderr)")
            #expect(result.stderr.contains("); the line is skipped and the rest replayed"))
            #expect(result.stderr.contains("replay done: 3 entries: 2 with events, 0 skipped, 1 failed"))
        }
    }

    @Test func longRuleErrorsAreCappedOnStderrAndInTheDeadLetter() async throws {
        try await TemporaryDirectory.with { tmp in
            let rules = try tmp.write("rules.lua", "function on_record(r) error(string.rep('x', 10000)) end")
            let input = try tmp.write("in.jsonl", "{}\n")
            let dead = tmp.path + "/dead.jsonl"
            let result = await InProcessCommandLine().run(["run", rules, input, "--dry-run", "--dead-letter", dead])
            #expect(result.status == 1)
            let line = try #require(result.stderr.split(separator: "\n").first { $0.contains("xxxx") })
            #expect(line.utf8.count < 4200)
            #expect(line.contains("… (") && line.contains(" bytes more)"))
            let error = try #require(try JobSummary.entries(dead).first?["error"] as? String)
            #expect(error.utf8.count < 4200)
            #expect(error.hasSuffix(" bytes more)"))
        }
    }

    @Test func deadLetterFilesAreCreatedOwnerOnly() async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, _, input) = try failingRun(tmp)
            let dead = tmp.path + "/dead.jsonl"
            _ = await InProcessCommandLine().run(["run", rules, input, "--dry-run", "--dead-letter", dead])
            let attributes = try FileManager.default.attributesOfItem(atPath: dead)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
    }
}
