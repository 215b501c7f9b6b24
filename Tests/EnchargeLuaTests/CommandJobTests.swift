import ArgumentParser
import EnchargeCommands
import EnchargeKit
import RecordSources
import SystemKit
import Testing

@testable import encharge_lua

/// What `run` and `replay` build from their flags and the context's environment, before any job runs.
@Suite struct CommandJobTests {
    func context(_ environment: [String: String]) -> (CommandContext, OutputBuffer) {
        let stderr = OutputBuffer()
        return (CommandContext(stdout: OutputBuffer(), stderr: stderr, environment: environment), stderr)
    }

    @Test func theWriteKeyAndEndpointComeFromTheContextsEnvironment() throws {
        let run = try #require(
            try EnchargeLua.parseAsRoot(["run", "r.lua", "in.jsonl", "--concurrency", "3"]) as? RunCommand)
        let (context, stderr) = context(["ENCHARGE_WRITE_KEY": "key-1", "ENCHARGE_ENDPOINT": "http://127.0.0.1:9/v1/"])
        let job = try run.job(context: context)
        let delivery = try #require(job.delivery)
        #expect(delivery.writeKey == "key-1")
        #expect(delivery.endpoint == "http://127.0.0.1:9/v1/")
        #expect(delivery.concurrency == 3)
        #expect(job.deadLetterPath == "dead-letter.jsonl")
        #expect(job.inputs.map(\.path) == ["in.jsonl"])
        #expect(stderr.text.isEmpty)
    }

    @Test func anExplicitEndpointWinsOverTheEnvironment() throws {
        let run = try #require(
            try EnchargeLua.parseAsRoot(["run", "r.lua", "--endpoint", "http://flag/"]) as? RunCommand)
        let (context, _) = context(["ENCHARGE_WRITE_KEY": "k", "ENCHARGE_ENDPOINT": "http://environment/"])
        #expect(try run.job(context: context).delivery?.endpoint == "http://flag/")
    }

    @Test func withoutAWriteKeyTheRunIsAConfigurationErrorThatSaysHowToSetIt() throws {
        let run = try #require(try EnchargeLua.parseAsRoot(["run", "r.lua", "in.jsonl"]) as? RunCommand)
        let (context, stderr) = context([:])
        #expect(throws: ExitCode(2)) { _ = try run.job(context: context) }
        #expect(
            stderr.text == "error: no Encharge write key: set ENCHARGE_WRITE_KEY or pass --write-key-file PATH "
                + "(or use --dry-run to print the events without sending)\n")
    }

    @Test func aDryRunNeedsNoWriteKeyAndKeepsNoDeadLetterFileUnlessAsked() throws {
        let run = try #require(try EnchargeLua.parseAsRoot(["run", "r.lua", "--dry-run"]) as? RunCommand)
        let (context, _) = context([:])
        let job = try run.job(context: context)
        #expect(job.delivery == nil)
        #expect(job.deadLetterPath == nil)
        #expect(job.inputs.map(\.path) == ["-"])
    }

    @Test func aRecordsPathThatIsNotAPointerIsAConfigurationError() throws {
        let run = try #require(
            try EnchargeLua.parseAsRoot(["run", "r.lua", "in.json", "--records-path", "data", "--dry-run"])
                as? RunCommand)
        let (context, stderr) = context([:])
        #expect(throws: ExitCode(2)) { _ = try run.job(context: context) }
        #expect(
            stderr.text.hasPrefix("error: the records path 'data' must be empty or start with '/'"), "\(stderr.text)")
    }

    @Test func aMissingSettingsFileIsAConfigurationError() throws {
        let run = try #require(
            try EnchargeLua.parseAsRoot(["run", "r.lua", "--dry-run", "--settings", "/nonexistent/s.json"])
                as? RunCommand)
        let (context, stderr) = context([:])
        #expect(throws: ExitCode(2)) { _ = try run.job(context: context) }
        #expect(stderr.text.hasPrefix("error: cannot read the settings file ("), "\(stderr.text)")
        #expect(stderr.text.hasSuffix("; check the --settings path\n"), "\(stderr.text)")
    }

    @Test func aReplayWritesWhatFailsAgainNextToItsInput() throws {
        let replay = try #require(try EnchargeLua.parseAsRoot(["replay", "out/dead.jsonl"]) as? ReplayCommand)
        let (context, _) = context(["ENCHARGE_WRITE_KEY": "k"])
        let job = try replay.job(replaying: "out/dead.jsonl", rule: nil, context: context)
        #expect(job.deadLetterPath == "out/dead.retry.jsonl")
        #expect(job.delivery?.writeKey == "k")
    }
}
