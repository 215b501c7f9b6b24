import Hummingbird

/// Counts every answer of the webhook routes in `encharge_requests_total`. A route names its
/// series only where routes are bounded: under a routes table, for a request the rule answered.
/// Refusals without it (size, auth, signature, malformed, duplicate, overload) share `unmatched`,
/// so clients cannot grow the metric set.
struct WebhookMetricsMiddleware: RouterMiddleware {
    typealias Context = WebhookRequestContext

    let metrics: WebhookMetrics
    /// Whether the rule routes by a `routes` table.
    let routesDefined: Bool

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            let response = try await next(request, context)
            record(request, context, response.status)
            return response
        } catch let error as any HTTPResponseError {
            record(request, context, error.status)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, _ status: HTTPResponse.Status) {
        let route: WebhookMetrics.Route
        if !routesDefined {
            route = .onWebhook
        } else if context.ruleAnswered.value && status != .notFound {
            route = .route("\(request.method.rawValue) \(request.uri.path)")
        } else {
            route = .unmatched
        }
        metrics.request(route: route, status: status)
    }
}
