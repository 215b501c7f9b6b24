import EnchargeRules
import JSONKit
import SystemKit
import WebhookServer

/// Runs `encharge-lua test`: loads the rule and every fixture, each file once (a rule that does not
/// load, a malformed fixture, or a rule without the entry point the fixtures need stops it with
/// `.usage` before anything runs), runs each fixture, and prints on stdout one line per fixture
/// (`ok   fixtures/signup.json`, or `FAIL ...` with what differs indented below), then `N passed,
/// N failed`. Returns `.someFailed` when any fixture failed. A rule call stuck in a library
/// function fails its fixture and ends the process after `stopped: N passed, N failed, M not run`.
///
/// With `update`, writes the actual outcome into each fixture that does not expect it (`updated
/// PATH` for each), leaving its input byte for byte as it was.
package func testJob(_ configuration: TestJobConfiguration, context: CommandContext) -> ExitStatus {
    let diagnostics = context.diagnostics
    let output = DiagnosticsPrinter(writer: context.stdout)
    var rule = configuration.rule.logging(to: context.stderr)
    // Read once, so that every fixture runs the same version of the rule (a file that cannot be
    // read is reported by the load below).
    if rule.source == nil { rule.source = try? FileReader.read(rule.rulesPath) }
    let engine: RuleEngine
    do { engine = try RuleEngine(options: rule) } catch {
        diagnostics.write("error: \(error.description)")
        return .usage
    }
    let fixtures: [Fixture]
    do {
        let files = try Fixture.files(rulesPath: rule.rulesPath, given: configuration.fixtures)
        let signedAt = Int(SystemClock.wallSeconds())
        var loaded: [Fixture] = []
        var malformed: [FixtureError] = []
        for file in files {
            do throws(FixtureError) {
                let fixture = try Fixture.load(file, signedAt: signedAt)
                if fixture.expectation == nil && !configuration.update {
                    throw FixtureError(
                        file: file, jsonPath: JSONPath(),
                        "has no expectation; add \"events\", \"skip\" or \"error\", or run test --update to record what the rule does"
                    )
                }
                loaded.append(fixture)
            } catch {
                malformed.append(error)
            }
        }
        guard malformed.isEmpty else {
            for error in malformed { diagnostics.write("error: \(error.description)") }
            return .usage
        }
        fixtures = loaded
    } catch {
        diagnostics.write("error: \(error.description)")
        return .usage
    }
    let missing = missingEntryPoints(of: engine, for: fixtures)
    guard missing.isEmpty else {
        missing.forEach(diagnostics.write)
        return .usage
    }
    let tally = TestJobTally(total: fixtures.count, update: configuration.update)
    let runner = FixtureRunner(
        rule: rule, verification: configuration.verification,
        onStuckCall: { file, message in
            output.write("FAIL \(Diagnostics.escaped(file))")
            output.write("  error \(Diagnostics.escaped(JSONValue.string(message).encoded()))")
            output.write(tally.stopped)
        }, traces: configuration.trace ? diagnostics : nil)
    if configuration.update {
        return updateFixtures(fixtures, runner: runner, tally: tally, output: output, diagnostics: diagnostics)
    }
    for fixture in fixtures {
        let actual = runner.outcome(of: fixture)
        let mismatches = fixture.expectation?.mismatches(actual) ?? []
        if mismatches.isEmpty {
            tally.count(.passed)
            output.write("ok   \(Diagnostics.escaped(fixture.file))")
        } else {
            tally.count(.failed)
            output.write("FAIL \(Diagnostics.escaped(fixture.file))")
            let redaction = runner.redaction(for: fixture)
            for line in mismatches { output.write("  " + Diagnostics.escaped(redaction.redact(line))) }
        }
    }
    output.write(tally.summary)
    return tally.anyFailed ? .someFailed : .success
}

/// What stops the fixtures from running before any runs, as `run` and `serve` refuse to start:
/// record fixtures and a rule without `on_record`, webhook fixtures and a rule without
/// `on_webhook` or `routes`. One `error: ...` line for each entry point missing.
private func missingEntryPoints(of engine: RuleEngine, for fixtures: [Fixture]) -> [String] {
    let rulesPath = engine.options.rulesPath
    let records = fixtures.filter { if case .record = $0.input { true } else { false } }.map(\.file)
    let webhooks = fixtures.filter { if case .webhook = $0.input { true } else { false } }.map(\.file)
    /// `fixtures/a.json`, or `fixtures/a.json and 2 more`.
    func named(_ files: [String]) -> String {
        Diagnostics.escaped(files[0]) + (files.count > 1 ? " and \(files.count - 1) more" : "")
    }
    var errors: [String] = []
    if !records.isEmpty && !engine.hasOnRecord {
        errors.append(
            "error: \(RuleEngine.noOnRecordMessage(rulesPath: rulesPath)); `test` runs record fixtures through it as `run` does, so define it or drop the record fixtures (\(named(records)))"
        )
    }
    if !webhooks.isEmpty && !engine.servesWebhooks {
        errors.append(
            "error: \(RuleEngine.noWebhookEntryMessage(rulesPath: rulesPath)); `test` answers webhook fixtures through one of them as `serve` does, so define one or drop the webhook fixtures (\(named(webhooks)))"
        )
    }
    return errors
}

/// `--update`: writes each fixture's actual outcome into it, unless the fixture already expects
/// it (a fixture that passes stays as it is, substrings and all).
private func updateFixtures(
    _ fixtures: [Fixture], runner: FixtureRunner, tally: TestJobTally, output: DiagnosticsPrinter,
    diagnostics: DiagnosticsPrinter
) -> ExitStatus {
    for fixture in fixtures {
        let actual = runner.outcome(of: fixture)
        let text: [UInt8]? =
            if let expectation = fixture.expectation, expectation.mismatches(actual).isEmpty {
                nil
            } else {
                fixture.text(expecting: actual.portable(rulesPath: runner.rule.rulesPath))
            }
        guard let text, text != fixture.text else {
            tally.count(.unchanged)
            continue
        }
        do { try Fixture.write(text, to: fixture.file) } catch {
            diagnostics.write("error: \(error.description)")
            return .usage
        }
        tally.count(.updated)
        output.write("updated \(Diagnostics.escaped(fixture.file))")
    }
    output.write(tally.summary)
    return .success
}
