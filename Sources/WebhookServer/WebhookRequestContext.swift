import Hummingbird
import NIOCore

/// The request context of the webhook routes. The middleware fills it on the way in: the request
/// id (`WebhookMetricsMiddleware`) and the body read within the limit (`BodyLimitMiddleware`), so
/// the checks after them and the controller read the body once.
struct WebhookRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's address, shown to the rule as `req.remote_ip`.
    let remoteAddress: String?
    /// The id answered in `X-Request-Id` and used for the spool and the log.
    var requestID = ""
    /// The whole request body, once `BodyLimitMiddleware` has read it.
    var body: [UInt8] = []
    /// Set by the controller when the rule answered the request, so its route names the metric
    /// series; shared with `WebhookMetricsMiddleware`, which reads it after the answer.
    let ruleAnswered = RuleAnswered()
    /// With `--trace`, where the controller leaves what the rule did for `TraceMiddleware`.
    var trace: RequestTrace?

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}
