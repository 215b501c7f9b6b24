import EnchargeKit
import EnchargeRules
import LuaKit
import RecordSources
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// `encharge-lua check`: compiles the rule, confirms its entry points, reports assignments to
/// undeclared globals and uses of names that do not exist (`encharge.identfy`, `io.open`), and
/// with a sample prints the events it makes. Returns `.success` (warnings allowed), `.someFailed`
/// when the rule uses a name that does not exist or the sample had failing records (no "ok" then),
/// or `.usage` when the rule cannot be used.
package func checkRule(options: RuleOptions, sample: InputSpec?, context: CommandContext) -> ExitStatus {
    let diagnostics = context.diagnostics
    let engine: RuleEngine
    do { engine = try RuleEngine(options: options.logging(to: context.stderr)) } catch {
        diagnostics.write("error: \(error.description)")
        return .usage
    }
    let entryPoints = ["on_record", "on_webhook"].filter { engine.definesFunction($0) }
    let hasRoutes = engine.definesTable("routes")
    if entryPoints.isEmpty && !hasRoutes {
        var message =
            "\(options.rulesPath): error: defines neither on_record(record, ctx) nor on_webhook(req) nor a routes table"
        let names = engine.globalFunctionNames()
        if let guess = names.first(where: {
            EditDistance.between($0, "on_record") <= 2 || EditDistance.between($0, "on_webhook") <= 2
        }) {
            message += " (did you mean to name '\(guess)' on_record or on_webhook?)"
        }
        diagnostics.write(message)
        return .usage
    }
    let problems = engine.sourceProblems()
    for problem in problems { diagnostics.write(problem) }
    var failedSample = 0
    if let sample {
        let writer = JSONLinesEventWriter(writer: context.stdout)
        let deadLetters = DeadLetterWriter(path: "/dev/null")
        let run = MappingRun(engine: engine, sink: writer, deadLetters: deadLetters, diagnostics: diagnostics)
        let handover = AbandonedCheckHandover(
            run: run, engine: engine, writer: writer, problems: problems.count, diagnostics: diagnostics)
        let watchdog = RuleWatchdog(clock: engine.callClock, timeLimit: options.limits.seconds) { seconds in
            handover.finish(runningSeconds: seconds)
        }
        let summary = run.run(inputs: [sample])
        watchdog.stop()
        writer.flush()
        diagnostics.write("sample: " + outcomeCounts(summary))
        failedSample = summary.failed
    }
    let warnings = engine.handlerGlobalWarnings() + engine.warnings + engine.warningLines()
    for warning in warnings { diagnostics.write(warning) }
    let warningCount = warnings.count
    let warningNote = warningCount == 0 ? "" : "; \(warningCount) warning\(warningCount == 1 ? "" : "s")"
    if !problems.isEmpty || failedSample > 0 {
        diagnostics.write(
            checkFailureLine(rulesPath: options.rulesPath, problems: problems.count, failedSample: failedSample))
        return .someFailed
    }
    let points = (entryPoints + (hasRoutes ? ["routes"] : [])).joined(separator: ", ")
    diagnostics.write("\(options.rulesPath): ok (\(points)\(warningNote))")
    return .success
}

/// `rules.lua: error: 1 error in the rule and 1 sample record failed; fix these before running the rule`.
func checkFailureLine(rulesPath: String, problems: Int, failedSample: Int) -> String {
    var parts: [String] = []
    if problems > 0 { parts.append("\(problems) error\(problems == 1 ? "" : "s") in the rule") }
    if failedSample > 0 { parts.append("\(failedSample) sample record\(failedSample == 1 ? "" : "s") failed") }
    return "\(rulesPath): error: \(parts.joined(separator: " and ")); fix these before running the rule"
}
