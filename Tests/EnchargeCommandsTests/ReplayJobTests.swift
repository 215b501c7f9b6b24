import EnchargeKit
import EnchargeRules
import EnchargeSpool
import JSONKit
import SystemKit
import TestSupport
import Testing

@testable import EnchargeCommands

/// `replay` of a dead-letter file and `replay --spool`, in process.
@Suite struct ReplayJobTests {
    /// A dead-letter file with one event entry and one record entry.
    func deadLetters(_ harness: JobHarness, dryRun: Bool = false) throws -> String {
        let path = harness.directory.path + "/dead.jsonl"
        let writer = DeadLetterWriter(path: path, context: DeadLetterContext(rulesSHA256: nil, dryRun: dryRun))
        try writer.writeEventFailure(
            event: try Event.identify(user: ["email": "a@x.io"]), reason: "HTTP 500", attempts: 8, source: "in.jsonl:1")
        try writer.writeRecordFailure(
            record: ["email": "b@x.io"], error: "rules.lua:3: boom", traceback: nil, source: "in.jsonl:2")
        return path
    }

    func replay(_ harness: JobHarness, input: String, rule: String?) throws -> EnchargeCommands.ExitStatus {
        let options = try rule.map { RuleOptions(rulesPath: try harness.file("fixed.lua", $0)) }
        let job = ReplayJobConfiguration(
            inputPath: input, rule: options, deadLetterPath: nil, dryRun: true, quiet: false, delivery: nil,
            drainTimeout: 1)
        return replayJob(job, context: harness.context())
    }

    @Test func eventEntriesAreSentAgainAndRecordsRunThroughTheFixedRule() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let input = try deadLetters(harness)
        let status = try replay(harness, input: input, rule: "function on_record(r) encharge.track('Fixed', r) end")
        #expect(status == .success)
        #expect(
            harness.stdoutLines == [
                #"{"name":"identify","user":{"email":"a@x.io"}}"#,
                #"{"name":"Fixed","user":{"email":"b@x.io"}}"#,
            ])
        #expect(
            harness.stderr.text.hasPrefix("replay done: 2 entries: 2 with events, 0 skipped, 0 failed; 2 events in "))
    }

    @Test func recordEntriesWithoutARuleAreKeptAndSaySo() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let status = try replay(harness, input: try deadLetters(harness), rule: nil)
        #expect(status == .someFailed)
        #expect(harness.stdoutLines == [#"{"name":"identify","user":{"email":"a@x.io"}}"#])
        #expect(harness.stderr.text.contains("warning: 1 record entry needs the fixed rule: pass --rules RULES"))
    }

    @Test func entriesADryRunWroteAreRefused() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let input = try deadLetters(harness, dryRun: true)
        let status = try replay(harness, input: input, rule: "function on_record(r) encharge.track('Fixed', r) end")
        #expect(status == .someFailed)
        #expect(harness.stdout.text.isEmpty)
        #expect(
            harness.stderr.text.contains(
                "error: 2 entries of \(input) came from a --dry-run and were not replayed, since a dry run sends nothing"
            ))
    }

    @Test func anInterruptStopsTheReplayWith130() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let input = try deadLetters(harness)
        harness.interrupts.interrupt()
        let status = try replay(harness, input: input, rule: nil)
        #expect(status == .interrupted)
        #expect(harness.stdout.text.isEmpty)
        #expect(harness.stderr.text.contains("replay interrupted: 0 entries: "))
    }

    @Test func aSpoolReplayRequeuesDeadEventsAndRunsKeptRequestsThroughTheFixedRule() async throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let path = harness.directory.path + "/spool.sqlite"
        let spool = try SQLiteSpool(path: path)
        let request = WebhookRequest(
            id: "req-1", method: "POST", path: "/hook", query: [], headers: [("content-type", "application/json")],
            body: Array(#"{"email":"c@x.io"}"#.utf8), remoteIP: nil)
        try await spool.keepFailedRequest(requestID: "req-1", request: request.jsonValue, error: "boom", traceback: nil)
        let rule = try harness.file(
            "fixed.lua", "function on_webhook(req) encharge.identify{ email = req.json.email } end")
        let status = await replaySpool(
            try SpoolOpening(spool: path, passwordFile: nil, environment: [:], warn: { _ in }),
            rule: RuleOptions(rulesPath: rule), context: harness.context())
        #expect(status == .success)
        #expect(
            harness.stderrLines == [
                "0 dead events re-queued for delivery",
                "1 failed request replayed, 0 failed again (still kept), 0 already delivered under the same dedup key (dropped)",
            ])
        let stats = try await spool.stats()
        #expect(stats.failedRequests == 0)
        #expect(stats.pending == 1)
    }

    @Test func aSpoolReplayWithARuleThatStillFailsKeepsTheRequestAndExitsOne() async throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let path = harness.directory.path + "/spool.sqlite"
        let spool = try SQLiteSpool(path: path)
        let request = WebhookRequest(
            id: "req-2", method: "POST", path: "/hook", query: [], headers: [], body: [], remoteIP: nil)
        try await spool.keepFailedRequest(requestID: "req-2", request: request.jsonValue, error: "boom", traceback: nil)
        let rule = try harness.file("still.lua", "function on_webhook(req) error('still broken') end")
        let status = await replaySpool(
            try SpoolOpening(spool: path, passwordFile: nil, environment: [:], warn: { _ in }),
            rule: RuleOptions(rulesPath: rule), context: harness.context())
        #expect(status == .someFailed)
        #expect(
            harness.stderrLines.contains {
                $0.hasPrefix("request req-2: error: ") || $0.contains(": error: still broken")
            })
        #expect(harness.stderr.text.contains("0 failed requests replayed, 1 failed again (still kept)"))
        #expect(try await spool.stats().failedRequests == 1)
    }
}
