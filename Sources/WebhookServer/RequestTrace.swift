import EnchargeRules
import Synchronization

/// What `serve --trace` shows of one request besides its status: the rule's steps, and what
/// became of its events or why the server refused it. The controller fills it; `TraceMiddleware`
/// reads it once the answer is made.
final class RequestTrace: Sendable {
    private let recorded = Mutex<(entries: [RuleTrace.Entry], note: String?, refusal: String?)>(([], nil, nil))

    /// The steps of the rule's call.
    func record(_ entries: [RuleTrace.Entry]) { recorded.withLock { $0.entries = entries } }

    /// What became of the events (`2 events`, `duplicate; the rule did not run`), shown after the status.
    func note(_ note: String) { recorded.withLock { $0.note = note } }

    /// Why the server answered the request itself (`no route for POST /x`), shown after the status.
    func refuse(_ message: String) { recorded.withLock { $0.refusal = message } }

    /// The steps, the note and the refusal recorded so far.
    var value: (entries: [RuleTrace.Entry], note: String?, refusal: String?) { recorded.withLock { $0 } }
}
