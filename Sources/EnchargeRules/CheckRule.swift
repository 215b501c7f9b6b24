import EnchargeKit
import JSONKit

#if canImport(Glibc)
import Glibc
#endif

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
        let handover = AbandonedCheckHandover(run: run, engine: engine, writer: writer, problems: problems.count)
        let watchdog = RuleWatchdog(clock: engine.callClock, timeLimit: options.limits.seconds) { seconds in
            handover.finish(runningSeconds: seconds)
        }
        let summary = run.run(inputs: [sample])
        watchdog.stop()
        writer.flush()
        Diagnostics.write("sample: " + outcomeCounts(summary))
        failedSample = summary.failed
    }
    let warnings = engine.handlerGlobalWarnings() + engine.warnings + engine.warningLines()
    for warning in warnings { Diagnostics.write(warning) }
    let warningCount = warnings.count
    let warningNote = warningCount == 0 ? "" : "; \(warningCount) warning\(warningCount == 1 ? "" : "s")"
    if !problems.isEmpty || failedSample > 0 {
        Diagnostics.write(checkFailureLine(rulesPath: options.rulesPath, problems: problems.count, failedSample: failedSample))
        return 1
    }
    let points = (entryPoints + (hasRoutes ? ["routes"] : [])).joined(separator: ", ")
    Diagnostics.write("\(options.rulesPath): ok (\(points)\(warningNote))")
    return 0
}

extension RuleEngine {
    /// Globals the per-record and per-request functions assign, read from the rule's source
    /// (`HandlerGlobalsLint`); an assignment the sample run also reported as undeclared is then
    /// dropped from `warnings`, so each shows once.
    func handlerGlobalWarnings() -> [String] {
        guard let source = options.source ?? (try? readFile(options.rulesPath)) else { return [] }
        let found = HandlerGlobalsLint.assignments(in: source)
        warnings.removeAll { warning in
            // `rules.lua:4: warning: assignment to undeclared global 'x' ...`, where Lua shortens a
            // long path to `...end/of/rules.lua`.
            guard let range = warning.range(of: ": warning: assignment to undeclared global '"),
                let colon = warning[..<range.lowerBound].lastIndex(of: ":"),
                let line = Int(warning[warning.index(after: colon)..<range.lowerBound])
            else { return false }
            let file = warning[..<colon]
            let sameFile = file.hasPrefix("...") ? options.rulesPath.hasSuffix(file.dropFirst(3)) : file == options.rulesPath
            let name = warning[range.upperBound...].prefix { $0 != "'" }
            return sameFile && found.contains { $0.line == line && $0.name == name }
        }
        return found.map { $0.warning(path: options.rulesPath) }
    }
}

/// `rules.lua: error: 1 error in the rule and 1 sample record failed; fix these before running the rule`.
func checkFailureLine(rulesPath: String, problems: Int, failedSample: Int) -> String {
    var parts: [String] = []
    if problems > 0 { parts.append("\(problems) error\(problems == 1 ? "" : "s") in the rule") }
    if failedSample > 0 { parts.append("\(failedSample) sample record\(failedSample == 1 ? "" : "s") failed") }
    return "\(rulesPath): error: \(parts.joined(separator: " and ")); fix these before running the rule"
}

/// What `check --input` hands to its watchdog, as `run` does with `AbandonedRunHandover`: after
/// the watchdog gave the rule's call up, the checking thread never returns from that call, so the
/// watchdog thread may take these objects over.
struct AbandonedCheckHandover: @unchecked Sendable {
    // Invariant: touched by the watchdog thread only after `LuaCallClock.abandon` succeeded, when
    // the checking thread can no longer touch them.
    let run: MappingRun
    let engine: RuleEngine
    let writer: JSONLinesEventWriter
    /// Errors already reported from the rule's source.
    let problems: Int

    /// Reports the sample record whose call overran with the rule line, prints what earlier records
    /// emitted and the sample summary, and ends the process with exit code 1.
    func finish(runningSeconds: Double) -> Never {
        let summary = run.abandonCurrentRecord(message: engine.overrunMessage(runningSeconds: runningSeconds, job: "check"))
        writer.flush()
        Diagnostics.write("sample: " + outcomeCounts(summary))
        Diagnostics.write(checkFailureLine(rulesPath: engine.options.rulesPath, problems: problems, failedSample: summary.failed))
        // exit() would run the C library's atexit work while the stuck thread still runs Lua.
        _exit(1)
    }
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
