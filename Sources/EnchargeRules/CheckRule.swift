import EnchargeKit
import JSONKit

/// `encharge-lua check`: compiles the rule, confirms its entry points, reports assignments to
/// undeclared globals, and with a sample prints the events it makes. Returns the exit code:
/// 0 fine (warnings allowed), 1 the sample had failing records, 2 the rule cannot be used.
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
    var code: Int32 = 0
    if let sample {
        let writer = JSONLinesEventWriter()
        let deadLetters = DeadLetterWriter(path: "/dev/null")
        let run = MappingRun(engine: engine, sink: writer, deadLetters: deadLetters)
        let summary = run.run(inputs: [sample])
        writer.flush()
        Diagnostics.write("sample: \(summary.records) records, \(summary.events) events, \(summary.skipped) skipped, \(summary.failed) failed")
        if summary.failed > 0 { code = 1 }
    }
    for warning in engine.warnings { Diagnostics.write(warning) }
    let points = (entryPoints + (hasRoutes ? ["routes"] : [])).joined(separator: ", ")
    Diagnostics.write("\(options.rulesPath): ok (\(points)\(engine.warnings.isEmpty ? "" : "; \(engine.warnings.count) warning\(engine.warnings.count == 1 ? "" : "s")"))")
    return code
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
