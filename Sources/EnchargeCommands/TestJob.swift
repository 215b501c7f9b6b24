import EnchargeRules
import JSONKit
import SystemKit
import WebhookServer

/// Runs `encharge-lua test`: loads the rule and every fixture (a rule that does not load or a
/// malformed fixture stops it with `.usage` before anything runs), runs each fixture, and prints on
/// stdout one line per fixture (`ok   fixtures/signup.json`, or `FAIL ...` with what differs
/// indented below), then `N passed, N failed`. Returns `.someFailed` when any fixture failed.
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
    do { _ = try RuleEngine(options: rule) } catch {
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
    let runner = FixtureRunner(
        rule: rule, verification: configuration.verification,
        onStuckCall: { file, message in
            output.write("FAIL \(Diagnostics.escaped(file))")
            output.write("  error \(Diagnostics.escaped(JSONValue.string(message).encoded()))")
        }, traces: configuration.trace ? diagnostics : nil)
    if configuration.update {
        return updateFixtures(fixtures, runner: runner, output: output, diagnostics: diagnostics)
    }
    var passed = 0
    var failed = 0
    for fixture in fixtures {
        let actual = runner.outcome(of: fixture)
        let mismatches = fixture.expectation?.mismatches(actual) ?? []
        if mismatches.isEmpty {
            passed += 1
            output.write("ok   \(Diagnostics.escaped(fixture.file))")
        } else {
            failed += 1
            output.write("FAIL \(Diagnostics.escaped(fixture.file))")
            let redaction = runner.redaction(for: fixture)
            for line in mismatches { output.write("  " + Diagnostics.escaped(redaction.redact(line))) }
        }
    }
    output.write("\(passed) passed, \(failed) failed")
    return failed > 0 ? .someFailed : .success
}

/// `--update`: writes each fixture's actual outcome into it, unless the fixture already expects
/// it (a fixture that passes stays as it is, substrings and all).
private func updateFixtures(
    _ fixtures: [Fixture], runner: FixtureRunner, output: DiagnosticsPrinter, diagnostics: DiagnosticsPrinter
) -> ExitStatus {
    var updated = 0
    for fixture in fixtures {
        let actual = runner.outcome(of: fixture)
        if let expectation = fixture.expectation, expectation.mismatches(actual).isEmpty { continue }
        let text = fixture.text(expecting: actual.portable(rulesPath: runner.rule.rulesPath))
        guard text != fixture.text else { continue }
        do { try Fixture.write(text, to: fixture.file) } catch {
            diagnostics.write("error: \(error.description)")
            return .usage
        }
        updated += 1
        output.write("updated \(Diagnostics.escaped(fixture.file))")
    }
    output.write("\(updated) updated, \(fixtures.count - updated) unchanged")
    return .success
}
