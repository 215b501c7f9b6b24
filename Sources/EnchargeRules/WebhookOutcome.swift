import EnchargeKit

/// What running the rule on one request gave.
public enum WebhookOutcome: Sendable {
    /// The rule ran: its events (in emission order) and the response it asked for (nil: 202
    /// with `{"accepted": n}`).
    case handled(events: [Event], response: WebhookResponse?)
    /// `webhook.verify` failed: answer 401, nothing emitted.
    case unauthorized(String)
    /// No route matches `METHOD /path` in the rule's `routes` table.
    case notFound
    /// The rule raised (or emitted an invalid event): answer 500, keep the request for replay.
    case failed(message: String, traceback: String?)
    /// The rule ran out of its memory, instruction or time budget before emitting any event:
    /// answer 500 but keep nothing, so that requests nobody signed cannot fill the disk.
    case overBudget(message: String, traceback: String?)
}
