import EnchargeRules
import LuaKit
import RecordSources
import SystemKit

/// Runs `encharge-lua diff`: takes the inputs in the order given; reads each records input once
/// and maps each record through the old and the new rule, and runs each fixture through both as
/// `test` does; reports each input whose outcome changed as it goes (`DiffJobReport`) and ends
/// with the counts. Nothing about an input is kept after it is reported. Returns `.someFailed`
/// when something changed and `failOnChange` is set, `.usage` when a rule does not load, an input
/// cannot be read or a fixture is malformed, else `.success`.
package func diffJob(_ configuration: DiffJobConfiguration, context: CommandContext) -> ExitStatus {
    let diagnostics = context.diagnostics
    let recordInputs = configuration.inputs.compactMap { input -> InputSpec? in
        if case .records(let spec) = input { spec } else { nil }
    }
    var engines: [RuleEngine] = []
    for rule in [configuration.oldRule, configuration.newRule] {
        do { engines.append(try RuleEngine(options: rule.logging(to: context.stderr))) } catch {
            diagnostics.write("error: \(error.description)")
            return .usage
        }
        if let records = recordInputs.first, let engine = engines.last, !engine.hasOnRecord {
            diagnostics.write(
                "error: \(RuleEngine.noOnRecordMessage(rulesPath: rule.rulesPath)), so it cannot map the records of \(records.path == "-" ? "stdin" : records.path); for a webhook rule, pass webhook fixtures to --input (a fixtures folder, or .json files holding a \"webhook\" member)"
            )
            return .usage
        }
    }
    let (old, new) = (engines[0], engines[1])
    // Every input is checked before the first record, as `run` does, so a mistyped path costs nothing.
    let unreadable = recordInputs.compactMap { $0.unreadableMessage() }
    guard unreadable.isEmpty else {
        unreadable.forEach(diagnostics.write)
        return .usage
    }
    let signedAt = Int(SystemClock.wallSeconds())
    guard
        let steps = checkedSteps(
            configuration.inputs, rulesPath: configuration.newRule.rulesPath, signedAt: signedAt,
            diagnostics: diagnostics)
    else {
        return .usage
    }
    let report = DiffJobReport(output: context.stdout, json: configuration.json)
    let handover = AbandonedDiffHandover(report: report, engines: engines, diagnostics: diagnostics)
    let watchdogs = engines.indices.map { rule in
        RuleWatchdog(clock: engines[rule].callClock, timeLimit: engines[rule].options.limits.seconds) { seconds in
            handover.finish(rule: rule, runningSeconds: seconds)
        }
    }
    // A fixture's rule call stuck in a library function ends the diff as a record's does.
    let onStuckCall: @Sendable (String, String) -> Void = { file, message in
        handover.finish(message: message, source: file)
    }
    let (oldRunner, newRunner) = (
        FixtureRunner(rule: old.options, verification: nil, onStuckCall: onStuckCall, traces: nil, job: "diff"),
        FixtureRunner(rule: new.options, verification: nil, onStuckCall: onStuckCall, traces: nil, job: "diff")
    )
    var inputErrors = 0
    for step in steps {
        switch step {
        case .records(let input):
            inputErrors += diffRecords(input, old: old, new: new, report: report, diagnostics: diagnostics)
        case .fixtures(let file):
            inputErrors += diffFixture(
                file, signedAt: signedAt, old: oldRunner, new: newRunner, report: report, diagnostics: diagnostics)
        }
    }
    watchdogs.forEach { $0.stop() }
    for engine in engines {
        for warning in engine.warningLines() { diagnostics.write(warning) }
    }
    report.finish(.complete)
    if inputErrors > 0 { return .usage }
    return configuration.failOnChange && report.counts.unchanged < report.counts.inputs ? .someFailed : .success
}

/// Maps each record of `input` through both rules and reports it; returns 1 when the input
/// could not be read to the end (reported on stderr as `run` reports it), else 0.
private func diffRecords(
    _ input: InputSpec, old: RuleEngine, new: RuleEngine, report: DiffJobReport, diagnostics: DiagnosticsPrinter
) -> Int {
    let reader: RecordReader
    do { reader = try RecordReader(spec: input, warn: diagnostics.write) } catch {
        // Checked before the first record; this input went away since, or its --records-path does not fit it.
        diagnostics.write(input.unreadableMessage() ?? "error: \(error.description)")
        return 1
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
        return 1
    }
    return 0
}

/// Runs the fixture in `file` through both rules as `test` runs it (a freshly loaded rule each,
/// the fixture's settings and clock, webhooks answered as `serve` answers) and reports it; returns
/// 1 when the fixture could no longer be read, else 0.
private func diffFixture(
    _ file: String, signedAt: Int, old: FixtureRunner, new: FixtureRunner, report: DiffJobReport,
    diagnostics: DiagnosticsPrinter
) -> Int {
    let fixture: Fixture
    do { fixture = try Fixture.load(file, signedAt: signedAt) } catch {
        // Checked before the first input; the file changed since.
        diagnostics.write("error: \(error.description)")
        return 1
    }
    report.add(
        DiffJobComparison(
            old: DiffJobOutcome(old.outcome(of: fixture)), new: DiffJobOutcome(new.outcome(of: fixture)),
            oldRulesPath: old.rule.rulesPath, newRulesPath: new.rule.rulesPath),
        source: fixture.file)
    return 0
}

/// `inputs` with each fixtures folder replaced by its fixture files, each fixture loaded once to
/// check it so a malformed one stops the diff before anything runs (every one reported with its
/// file and JSON path); nil then.
private func checkedSteps(
    _ inputs: [DiffJobInput], rulesPath: String, signedAt: Int, diagnostics: DiagnosticsPrinter
) -> [DiffJobInput]? {
    var steps: [DiffJobInput] = []
    var malformed = false
    for input in inputs {
        guard case .fixtures(let path) = input else {
            steps.append(input)
            continue
        }
        let files: [String]
        do { files = try Fixture.files(rulesPath: rulesPath, given: [path]) } catch {
            diagnostics.write("error: \(error.description)")
            malformed = true
            continue
        }
        for file in files {
            do throws(FixtureError) { _ = try Fixture.load(file, signedAt: signedAt) } catch {
                diagnostics.write("error: \(error.description)")
                malformed = true
            }
            steps.append(.fixtures(file))
        }
    }
    return malformed ? nil : steps
}
