import EnchargeRules

/// What the pool hands back for one request: the rule's outcome and the dedup key the rule set
/// (`webhook.dedup(key)` or a verified Stripe event id), nil when it set none.
package struct WebhookRun: Sendable {
    /// What the rule did with the request.
    package var outcome: WebhookOutcome
    /// The dedup key the rule set, if any.
    package var dedupKey: String?
    /// What the rule did, in order, when the server traces (`--trace`); empty otherwise.
    package var trace: [RuleTrace.Entry] = []
}
