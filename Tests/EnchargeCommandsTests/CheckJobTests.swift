import EnchargeRules
import RecordSources
import SystemKit
import Testing

@testable import EnchargeCommands

/// `check` in process: the ok line, refusals with their exit status, and a sample's events.
@Suite struct CheckJobTests {
    func check(_ harness: JobHarness, _ rule: String, sample: String? = nil) throws -> (
        EnchargeCommands.ExitStatus, String
    ) {
        let path = try harness.file("rules.lua", rule)
        let spec = try sample.map { InputSpec(path: try harness.file("sample.jsonl", $0), format: .jsonl) }
        let status = checkRule(
            options: RuleOptions(rulesPath: path, lintGlobals: true), sample: spec, context: harness.context())
        return (status, path)
    }

    @Test func aGoodRuleIsOkNamingItsEntryPoints() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let (status, path) = try check(harness, "function on_record(r) encharge.identify{ email = r.email } end")
        #expect(status == .success)
        #expect(harness.stderrLines == ["\(path): ok (on_record)"])
        #expect(harness.stdout.text.isEmpty)
    }

    @Test func aRuleWithoutAnEntryPointIsAUsageErrorWithAGuess() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let (status, path) = try check(harness, "function on_recrod(r) end")
        #expect(status == .usage)
        #expect(
            harness.stderrLines.first == "\(path): error: defines neither on_record(record, ctx) nor "
                + "on_webhook(req) nor a routes table (did you mean to name 'on_recrod' on_record or on_webhook?)")
    }

    @Test func aNameThatDoesNotExistFailsTheCheck() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let (status, path) = try check(harness, "function on_record(r) encharge.identfy{ email = r.email } end")
        #expect(status == .someFailed)
        #expect(harness.stderrLines.contains { $0.contains("encharge.identfy") })
        #expect(
            harness.stderrLines.contains(
                "\(path): error: 1 error in the rule; fix these before running the rule"))
        #expect(!harness.stderr.text.contains(": ok ("))
    }

    @Test func aSamplePrintsItsEventsAndCounts() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let rule =
            "function on_record(r) if not r.email then error('no email') end encharge.identify{ email = r.email } end"
        let (status, path) = try check(harness, rule, sample: #"{"email":"a@x.io"}"# + "\n{}\n")
        #expect(status == .someFailed)
        #expect(harness.stdoutLines == [#"{"name":"identify","user":{"email":"a@x.io"}}"#])
        #expect(harness.stderrLines.contains("sample: 2 records: 1 with events, 0 skipped, 1 failed; 1 event"))
        #expect(
            harness.stderrLines.contains(
                "\(path): error: 1 sample record failed; fix these before running the rule"))
    }

    @Test func aGlobalAHandlerAssignsIsAWarningNotAFailure() throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let (status, path) = try check(harness, "function on_record(r) seen = r end")
        #expect(status == .success)
        #expect(
            harness.stderrLines.contains {
                $0.hasSuffix(
                    ":1: warning: on_record assigns the global 'seen'; globals "
                        + "persist across calls within one worker and are not shared between workers (`run` and `replay` "
                        + "map on several with --jobs, `serve` answers on several) — use a local, keep state outside "
                        + "the rule, or for `run` and `replay` pass --jobs 1")
            })
        #expect(harness.stderrLines.contains("\(path): ok (on_record; 1 warning)"))
    }
}
