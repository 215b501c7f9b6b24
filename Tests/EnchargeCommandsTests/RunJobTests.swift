import EnchargeKit
import EnchargeRules
import Foundation
import RecordSources
import SystemKit
import TestSupport
import Testing

@testable import EnchargeCommands

/// `run` in process: what it prints on stdout and stderr, its exit status, interrupts.
@Suite struct RunJobTests {
    static let rule = """
        function on_record(r, ctx)
          if r.skip then return encharge.skip("asked to") end
          if r.fail then error("bad record " .. r.email) end
          encharge.identify{ email = r.email }
        end
        """

    func dryRun(_ harness: JobHarness, input: String, failFast: Bool = false) throws -> RunJobConfiguration {
        RunJobConfiguration(
            rule: RuleOptions(rulesPath: try harness.file("rules.lua", Self.rule)),
            inputs: [InputSpec(path: try harness.file("in.jsonl", input), format: .jsonl)], dryRun: true,
            deadLetterPath: nil, failFast: failFast, quiet: false, delivery: nil, drainTimeout: 1)
    }

    @Test func aDryRunPrintsEachEventOnStdoutAndTheSummaryOnStderr() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let job = try dryRun(harness, input: #"{"email":"a@x.io"}"# + "\n" + #"{"email":"b@x.io","skip":true}"# + "\n")
        let status = runJob(job, context: harness.context())
        #expect(status == .success)
        #expect(harness.stdoutLines == [#"{"name":"identify","user":{"email":"a@x.io"}}"#])
        let summary = try #require(harness.stderrLines.first)
        #expect(summary.hasPrefix("done: 2 records: 1 with events, 1 skipped, 0 failed; 1 event in "), "\(summary)")
        #expect(!harness.stderr.text.contains("\r"), "no progress line when stderr is not a terminal")
    }

    @Test func aFailedRecordIsReportedInCompilerFormAndExitsOne() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let job = try dryRun(harness, input: #"{"email":"a@x.io","fail":true}"# + "\n")
        let status = runJob(job, context: harness.context())
        #expect(status == .someFailed)
        // Lua shortens a long rules path to `...end/of/rules.lua` in the position.
        let line = try #require(harness.stderrLines.first)
        #expect(line.hasSuffix("rules.lua:3: error: bad record a@x.io (record \(job.inputs[0].path):1)"), "\(line)")
        #expect(harness.stderr.text.contains("done: 1 record: 0 with events, 0 skipped, 1 failed; 0 events"))
    }

    @Test func aRuleThatDoesNotLoadIsAUsageError() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        var job = try dryRun(harness, input: "")
        job.rule = RuleOptions(rulesPath: try harness.file("broken.lua", "function on_record(r"))
        #expect(runJob(job, context: harness.context()) == .usage)
        #expect(harness.stderr.text.hasPrefix("error: "))
        #expect(harness.stderr.text.contains("(the rules file does not compile)"))
        #expect(harness.stdout.text.isEmpty)
    }

    @Test func aMissingInputStopsTheRunBeforeTheFirstRecord() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        var job = try dryRun(harness, input: #"{"email":"a@x.io"}"# + "\n")
        job.inputs.append(InputSpec(path: harness.directory.path + "/missing.jsonl", format: .jsonl))
        #expect(runJob(job, context: harness.context()) == .usage)
        #expect(harness.stderr.text.contains("error: cannot read \(harness.directory.path)/missing.jsonl: "))
        #expect(harness.stdout.text.isEmpty, "nothing is mapped when an input cannot be read")
    }

    @Test func anInterruptBeforeTheFirstRecordExits130NamingWhereItStopped() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let job = try dryRun(harness, input: #"{"email":"a@x.io"}"# + "\n")
        harness.interrupts.interrupt()
        #expect(runJob(job, context: harness.context()) == .interrupted)
        #expect(harness.stdout.text.isEmpty)
        #expect(harness.stderr.text.contains("interrupted: 0 records: "))
        #expect(harness.stderr.text.contains("the first record not read is \(job.inputs[0].path):1"))
    }

    @Test func theProgressLineIsDrawnOnATerminalAndCleared() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let progress = ProgressLine(enabled: true, diagnostics: harness.context().diagnostics)
        var summary = MappingSummary()
        summary.records = 12
        summary.events = 20
        summary.failed = 1
        progress.update(summary: summary, delivery: nil, reader: nil)
        progress.clear()
        let text = harness.stderr.text
        #expect(text.hasPrefix("\r\u{1B}[K12 records, 20 events, 1 failed, "), "\(text.debugDescription)")
        #expect(text.hasSuffix(" records/s\r\u{1B}[K"), "\(text.debugDescription)")
    }

    @Test func aDisabledProgressLineWritesNothing() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let progress = ProgressLine(enabled: false, diagnostics: harness.context().diagnostics)
        progress.update(summary: MappingSummary(), delivery: nil, reader: nil)
        progress.clear()
        #expect(harness.stderr.text.isEmpty)
    }

    @Test func theRulesLogLinesAndInputWarningsGoToTheContextsStderr() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let rule = try harness.file(
            "log.lua",
            """
            function on_record(r, ctx)
              log.info("mapping", r.email)
              log.debug("not shown at the default level")
              encharge.identify{ email = r.email }
            end
            """)
        let input = try harness.file("in.jsonl", #"{"email":"a@x.io","email":"b@x.io"}"# + "\n")
        let csv = try harness.file("semi.csv", "email;name\nc@x.io;Cy\n")
        let job = RunJobConfiguration(
            rule: RuleOptions(rulesPath: rule),
            inputs: [InputSpec(path: input, format: .jsonl), InputSpec(path: csv, format: .csv)], dryRun: true,
            deadLetterPath: nil, failFast: false, quiet: true, delivery: nil, drainTimeout: 1)
        #expect(runJob(job, context: harness.context()) == .someFailed)
        let lines = harness.stderrLines
        #expect(lines.contains { $0.hasPrefix("\(input):1: info: mapping b@x.io (") && $0.hasSuffix("log.lua:2)") })
        #expect(!harness.stderr.text.contains("not shown"))
        #expect(
            lines.contains(
                "\(input):1: warning: key \"email\" appears more than once in one JSON object; the last value is used"))
        #expect(
            lines.contains(
                "\(csv):1: warning: the CSV header is one column holding ';'; if the file is separated "
                    + "by it, pass --delimiter ';'"))
    }
}
