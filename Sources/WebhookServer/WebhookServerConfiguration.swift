import EnchargeKit
import EnchargeRules
import EnchargeSpool
import WebhookSignatures

/// Everything `encharge-lua serve` needs, parsed from flags.
package struct WebhookServerConfiguration: Sendable {
    /// The rules file and its limits, settings and secrets.
    package var rule: RuleOptions
    /// The address to listen on.
    package var host = "127.0.0.1"
    /// The port to listen on; 0 picks a free one.
    package var port = 8080
    /// The largest request body; larger ones are answered 413.
    package var maxBodyBytes = 1 << 20
    /// Lua states serving requests at once.
    package var workers = 2
    /// Requests that may wait for a free Lua state before the server answers 503.
    package var maxWaiting = 256
    /// A signature scheme checked for every route before Lua sees the body.
    package var verifyScheme: WebhookScheme?
    /// The signing secret for `verifyScheme`.
    package var verifySecret: String?
    /// Options of the `verifyScheme` check (the header `hmac` reads, the timestamp tolerance).
    package var verifyOptions = WebhookVerificationOptions()
    /// A bearer token senders must present (`Authorization: Bearer ...`).
    package var authToken: String?
    /// Seconds a delivery id is remembered for dedup.
    package var dedupWindow: Double = 86_400
    /// How the spooled events are delivered to the Ingest API; nil when this server only accepts
    /// (`--no-deliver`) and `deliver` workers send them.
    package var delivery: DeliveryConfiguration?
    /// Seconds the stop after SIGTERM/SIGINT may take before the process exits anyway (what is
    /// not delivered stays pending in the spool).
    package var drainTimeout: Double = 10
    /// Seconds between attempts while the Ingest API refuses the write key (delivery is paused).
    package var keyRetryInterval: Double = 30
    /// Failed requests kept for replay, at most (the oldest are dropped past it).
    package var keptRequestCap = SpoolKeptRequestCap()
    /// Seconds between log lines of the rule's counted warnings (when there are any).
    package var ruleWarningInterval: Double = 60
    /// Undelivered events the spool may hold; at this many, requests are answered 503 with Retry-After.
    package var maxSpoolEvents = 1_000_000
    /// Seconds of the measured delivery rate the spool's backlog may hold before requests that add
    /// events wait (up to 10 ms each) before their commit; 0 turns this pacing off.
    package var paceBacklog: Double = 1
    /// Seconds a client has to send a request's headers, from connecting or from the previous
    /// response; a slower connection is closed.
    package var headerTimeout: Double = 10

    /// A configuration with the defaults of `serve` for everything but the rule and delivery.
    package init(rule: RuleOptions, delivery: DeliveryConfiguration?) {
        self.rule = rule
        self.delivery = delivery
    }
}
