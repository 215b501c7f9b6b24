import EnchargeKit
import JSONKit

/// `encharge-lua check`: compiles the rule, confirms its entry points, reports assignments to
/// undeclared globals and uses of names that do not exist (`encharge.identfy`, `io.open`), and
/// with a sample prints the events it makes. Returns the exit code: 0 fine (warnings allowed),
/// 1 the rule uses a name that does not exist or the sample had failing records (no "ok" then),
/// 2 the rule cannot be used.
public func checkRule(options: RuleOptions, sample: InputSpec?) -> Int32 {
    let engine: RuleEngine
    do { engine = try RuleEngine(options: options) } catch {
        Diagnostics.write("error: \(error.description)")
        return 2
    }
    let entryPoints = ["on_record", "on_webhook"].filter { engine.definesFunction($0) }
    let hasRoutes = engine.definesTable("routes")
    if entryPoints.isEmpty && !hasRoutes {
        var message = "\(options.rulesPath): error: defines neither on_record(record, ctx) nor on_webhook(req) nor a routes table"
        let names = engine.globalFunctionNames()
        if let guess = names.first(where: { editDistance($0, "on_record") <= 2 || editDistance($0, "on_webhook") <= 2 }) {
            message += " (did you mean to name '\(guess)' on_record or on_webhook?)"
        }
        Diagnostics.write(message)
        return 2
    }
    let problems = engine.sourceProblems()
    for problem in problems { Diagnostics.write(problem) }
    var failedSample = 0
    if let sample {
        let writer = JSONLinesEventWriter()
        let deadLetters = DeadLetterWriter(path: "/dev/null")
        let run = MappingRun(engine: engine, sink: writer, deadLetters: deadLetters)
        let summary = run.run(inputs: [sample])
        writer.flush()
        Diagnostics.write("sample: \(summary.records) records, \(summary.events) events, \(summary.skipped) skipped, \(summary.failed) failed")
        failedSample = summary.failed
    }
    for warning in engine.warnings + engine.warningLines() { Diagnostics.write(warning) }
    let warningCount = engine.warnings.count + engine.warningLines().count
    let warningNote = warningCount == 0 ? "" : "; \(warningCount) warning\(warningCount == 1 ? "" : "s")"
    if !problems.isEmpty || failedSample > 0 {
        var parts: [String] = []
        if !problems.isEmpty { parts.append("\(problems.count) error\(problems.count == 1 ? "" : "s") in the rule") }
        if failedSample > 0 { parts.append("\(failedSample) sample record\(failedSample == 1 ? "" : "s") failed") }
        Diagnostics.write("\(options.rulesPath): error: \(parts.joined(separator: " and ")); fix these before running the rule")
        return 1
    }
    let points = (entryPoints + (hasRoutes ? ["routes"] : [])).joined(separator: ", ")
    Diagnostics.write("\(options.rulesPath): ok (\(points)\(warningNote))")
    return 0
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
