import LuaKit

extension RuleEngine {
    /// Records `kind` at the rule line that called the Swift function now running, while a trace
    /// is set; otherwise one nil check, and `kind` is never built.
    func traceStep(_ kind: @autoclosure () -> RuleTrace.Kind) {
        guard trace != nil else { return }
        let line = state.position(level: 1).map { "\($0.source):\($0.line)" }
        trace!.append(RuleTrace.Entry(ruleLine: line, kind: kind()))
    }

    /// Records a failed call while a trace is set: a Lua position starting the message becomes
    /// the rule line, and the record's own `source: ` (an input that is not a record) is dropped,
    /// since the trace block names the source already.
    func traceFailure(_ message: String, traceback: String?, source: String) {
        guard trace != nil else { return }
        if message.hasPrefix(source + ": ") {
            let rest = String(message.dropFirst(source.count + 2))
            trace!.append(RuleTrace.Entry(ruleLine: nil, kind: .error(message: rest, traceback: traceback)))
        } else {
            trace!.append(RuleTrace.Entry(failure: message, traceback: traceback))
        }
    }

    /// A failed record, recorded in the trace.
    func failure(_ message: String, traceback: String? = nil, source: String) -> RecordOutcome {
        traceFailure(message, traceback: traceback, source: source)
        return .failed(message: message, traceback: traceback)
    }

    /// A request that failed outside a Lua error (no entry point, an answer that cannot be sent),
    /// recorded in the trace.
    func failedRequest(_ message: String) -> WebhookOutcome {
        traceFailure(message, traceback: nil, source: currentSource)
        return .failed(message: message, traceback: nil)
    }
}
