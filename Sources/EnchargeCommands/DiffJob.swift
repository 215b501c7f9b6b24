import EnchargeRules
import LuaKit
import RecordSources
import SystemKit

/// Runs `encharge-lua diff`: reads each record input once and maps each record through the old and
/// the new rule, then runs each fixture through both as `test` does; reports each input whose
/// outcome changed as it goes (`DiffJobReport`) and ends with the counts. Nothing about an input is
/// kept after it is reported. Returns `.someFailed` when something changed and `failOnChange` is
/// set, `.usage` when a rule does not load, an input cannot be read or a fixture is malformed,
/// else `.success`.
package func diffJob(_ configuration: DiffJobConfiguration, context: CommandContext) -> ExitStatus {
    let diagnostics = context.diagnostics
    var engines: [RuleEngine] = []
    for rule in [configuration.oldRule, configuration.newRule] {
        do { engines.append(try RuleEngine(options: rule.logging(to: context.stderr))) } catch {
            diagnostics.write("error: \(error.description)")
            return .usage
        }
        if !configuration.inputs.isEmpty, let engine = engines.last, !engine.hasOnRecord {
            diagnostics.write(
                "error: \(rule.rulesPath) defines no on_record(record, ctx) function; `diff` calls it once per input record"
            )
            return .usage
        }
    }
    let (old, new) = (engines[0], engines[1])
    // Every input is checked before the first record, as `run` does, so a mistyped path costs nothing.
    let unreadable = configuration.inputs.compactMap { $0.unreadableMessage() }
    guard unreadable.isEmpty else {
        unreadable.forEach(diagnostics.write)
        return .usage
    }
    let signedAt = Int(SystemClock.wallSeconds())
    guard let fixtureFiles = checkedFixtureFiles(configuration, signedAt: signedAt, diagnostics: diagnostics) else {
        return .usage
    }
    let report = DiffJobReport(output: context.stdout, json: configuration.json)
    let handover = AbandonedDiffHandover(report: report, engines: engines, diagnostics: diagnostics)
    let watchdogs = engines.indices.map { rule in
        RuleWatchdog(clock: engines[rule].callClock, timeLimit: engines[rule].options.limits.seconds) { seconds in
            handover.finish(rule: rule, runningSeconds: seconds)
        }
    }
    var inputErrors = diffRecords(configuration.inputs, old: old, new: new, report: report, diagnostics: diagnostics)
    watchdogs.forEach { $0.stop() }
    inputErrors += diffFixtures(
        fixtureFiles, signedAt: signedAt, old: old, new: new, report: report, handover: handover,
        diagnostics: diagnostics)
    for engine in engines {
        for warning in engine.warningLines() { diagnostics.write(warning) }
    }
    report.finish(.complete)
    if inputErrors > 0 { return .usage }
    return configuration.failOnChange && report.counts.unchanged < report.counts.inputs ? .someFailed : .success
}

/// Maps each record of `inputs` through both rules and reports it; returns how many inputs could
/// not be read to the end (each reported on stderr as `run` reports it).
private func diffRecords(
    _ inputs: [InputSpec], old: RuleEngine, new: RuleEngine, report: DiffJobReport, diagnostics: DiagnosticsPrinter
) -> Int {
    var inputErrors = 0
    for input in inputs {
        let reader: RecordReader
        do { reader = try RecordReader(spec: input, warn: diagnostics.write) } catch {
            // Checked before the first record; this input went away since, or its --records-path does not fit it.
            diagnostics.write(input.unreadableMessage() ?? "error: \(error.description)")
            inputErrors += 1
            continue
        }
        do {
            try reader.forEach { body, line in
                let source = reader.source(line)
                report.currentSource = source
                let was = DiffJobOutcome(old.map(body, source: source))
                // Both rules decode the same record: the new rule's warnings say all there is to say.
                _ = old.takeNewDuplicateJSONKeyWarnings(source: source)
                let now = DiffJobOutcome(new.map(body, source: source))
                new.takeNewDuplicateJSONKeyWarnings(source: source).forEach(diagnostics.write)
                report.add(
                    DiffJobComparison(
                        old: was, new: now, oldRulesPath: old.options.rulesPath, newRulesPath: new.options.rulesPath),
                    source: source)
                return true
            }
        } catch {
            diagnostics.write(MappingRun.inputErrorLine("\(error)", input: reader.displayName))
            inputErrors += 1
        }
    }
    return inputErrors
}

/// Runs each fixture through both rules as `test` runs it (a freshly loaded rule each, the
/// fixture's settings and clock, webhooks answered as `serve` answers) and reports it; returns how
/// many fixtures could no longer be read.
private func diffFixtures(
    _ files: [String], signedAt: Int, old: RuleEngine, new: RuleEngine, report: DiffJobReport,
    handover: AbandonedDiffHandover, diagnostics: DiagnosticsPrinter
) -> Int {
    // A fixture's rule call stuck in a library function ends the diff as a record's does.
    let onStuckCall: @Sendable (String, String) -> Void = { file, message in
        handover.finish(message: message, source: file)
    }
    let (oldRunner, newRunner) = (
        FixtureRunner(rule: old.options, verification: nil, onStuckCall: onStuckCall, traces: nil, job: "diff"),
        FixtureRunner(rule: new.options, verification: nil, onStuckCall: onStuckCall, traces: nil, job: "diff")
    )
    var unreadable = 0
    for file in files {
        let fixture: Fixture
        do { fixture = try Fixture.load(file, signedAt: signedAt) } catch {
            // Checked before the first input; the file changed since.
            diagnostics.write("error: \(error.description)")
            unreadable += 1
            continue
        }
        report.add(
            DiffJobComparison(
                old: DiffJobOutcome(oldRunner.outcome(of: fixture)),
                new: DiffJobOutcome(newRunner.outcome(of: fixture)),
                oldRulesPath: old.options.rulesPath, newRulesPath: new.options.rulesPath),
            source: fixture.file)
    }
    return unreadable
}

/// The fixture files `configuration` names, each loaded once to check it so a malformed one stops
/// the diff before anything runs (every one reported with its file and JSON path); nil then.
private func checkedFixtureFiles(
    _ configuration: DiffJobConfiguration, signedAt: Int, diagnostics: DiagnosticsPrinter
) -> [String]? {
    guard !configuration.fixtures.isEmpty else { return [] }
    let files: [String]
    do { files = try Fixture.files(rulesPath: configuration.newRule.rulesPath, given: configuration.fixtures) } catch {
        diagnostics.write("error: \(error.description)")
        return nil
    }
    var malformed = false
    for file in files {
        do throws(FixtureError) { _ = try Fixture.load(file, signedAt: signedAt) } catch {
            diagnostics.write("error: \(error.description)")
            malformed = true
        }
    }
    return malformed ? nil : files
}
