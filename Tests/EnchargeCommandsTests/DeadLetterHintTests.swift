import EnchargeKit
import EnchargeRules
import Foundation
import JSONKit
import TestSupport
import Testing

@testable import EnchargeCommands

/// The line after a run that says how to replay its dead letters.
@Suite struct DeadLetterHintTests {
    func writer(records: Int, events: Int) throws -> (DeadLetterWriter, TemporaryDirectory) {
        let directory = try TemporaryDirectory(prefix: "hints")
        let writer = DeadLetterWriter(path: directory.path + "/dead.jsonl")
        for _ in 0..<records { try writer.writeRecordFailure(record: 1, error: "e", traceback: nil, source: "s") }
        let event = try Event.identify(user: ["email": "a@x.io"])
        for _ in 0..<events { try writer.writeEventFailure(event: event, reason: "r", attempts: 1, source: "s") }
        return (writer, directory)
    }

    @Test(arguments: [
        ("dead.jsonl", "dead.jsonl"),
        ("out/dead-letter_2.jsonl", "out/dead-letter_2.jsonl"),
        ("my dead.jsonl", "'my dead.jsonl'"),
        ("it's.jsonl", #"'it'\''s.jsonl'"#),
        ("$HOME.jsonl", "'$HOME.jsonl'"),
        ("-x.jsonl", "./-x.jsonl"),
    ])
    func pathsAreQuotedForAShell(path: String, quoted: String) {
        #expect(shellQuoted(path) == quoted)
    }

    @Test func eventEntriesNeedNoRules() throws {
        let (writer, directory) = try writer(records: 0, events: 2)
        defer { directory.cleanup() }
        let hint = deadLetterHint(writer, dryRun: false, rules: RuleOptions(rulesPath: "rules.lua"))
        #expect(
            hint == "2 entries written to \(directory.path)/dead.jsonl; fix the cause and run "
                + "`encharge-lua replay \(directory.path)/dead.jsonl`")
    }

    @Test func recordEntriesNameTheRulesAndTheSettingsTheyNeed() throws {
        let (writer, directory) = try writer(records: 1, events: 1)
        defer { directory.cleanup() }
        var settings = JSONObject()
        settings["plan"] = "gold"
        let hint = deadLetterHint(
            writer, dryRun: false, rules: RuleOptions(rulesPath: "my rules.lua", settings: settings), again: true)
        #expect(
            hint == "2 entries failed again, written to \(directory.path)/dead.jsonl; fix the cause and run "
                + "`encharge-lua replay \(directory.path)/dead.jsonl --rules 'my rules.lua'` with the same --set and "
                + "--settings flags")
        #expect(deadLetterHint(writer, dryRun: false, rules: nil)?.contains("--rules RULES`") == true)
    }

    @Test func nothingWrittenOrNotAFileMeansNoHint() throws {
        let (empty, directory) = try writer(records: 0, events: 0)
        defer { directory.cleanup() }
        #expect(deadLetterHint(empty, dryRun: false, rules: nil) == nil)
        let devNull = DeadLetterWriter(path: "/dev/null")
        try devNull.writeRecordFailure(record: 1, error: "e", traceback: nil, source: "s")
        #expect(deadLetterHint(devNull, dryRun: false, rules: nil) == nil)
    }
}
