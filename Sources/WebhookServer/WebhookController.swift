import EnchargeRules
import EnchargeSpool
import HTTPTypes
import Hummingbird
import JSONKit
import Logging
import NIOCore
import WebhookSignatures

/// The webhook routes: every method on every path but `/healthz` and `/metrics` runs the rule.
/// What reaches the controller passed the body limit, the bearer token and the signature check
/// (`RouterMiddleware`s); the controller refuses malformed bodies, answers repeated deliveries,
/// runs the rule on the pool and stores its events in the spool before it answers.
struct WebhookController: Sendable {
    let configuration: WebhookServerConfiguration
    let pool: RulePool
    let workers: WorkerAvailability
    let spool: any EventSpool
    let metrics: WebhookMetrics
    let pacer: AcceptancePacer
    let logger: Logger

    /// The routes, for `addRoutes(_:)` on a group that carries the checks.
    var endpoints: RouteCollection<WebhookRequestContext> {
        let routes = RouteCollection(context: WebhookRequestContext.self)
        for method in [HTTPRequest.Method.post, .put, .patch, .delete, .get] {
            routes.on("/", method: method, use: handle)
            routes.on("/**", method: method, use: handle)
        }
        return routes
    }

    @Sendable func handle(_ request: Request, context: WebhookRequestContext) async throws -> Response {
        let id = context.requestID
        let body = context.body
        let route = "\(request.method.rawValue) \(request.uri.path)"
        var headers: [(String, String)] = []
        for field in request.headers { headers.append((field.name.canonicalName, field.value)) }
        let webhook = WebhookRequest(
            id: id, method: request.method.rawValue, path: request.uri.path,
            query: request.uri.queryParameters.map { (String($0.key), String($0.value)) },
            headers: headers, body: body, remoteIP: context.remoteAddress)

        // Malformed input never reaches the rule. A verified Stripe body is read for its event id
        // in the same pass that validates it.
        let stripeEventID: String?
        do {
            stripeEventID = try WebhookRefusal.checkBody(of: webhook, verifyScheme: configuration.verifyScheme)
        } catch {
            throw WebhookError(error, requestID: id)
        }
        // Dedup on the delivery id of the headers, before the rule runs. Keys found in the body (a
        // Stripe event id) or set by the rule (`webhook.dedup`) are checked when the events are
        // stored, inside the spool's transaction, so no request pays an extra SQLite read for them.
        // With --verify, only the verified scheme's own id counts (none for stripe and hmac): an
        // unsigned header anyone can set must not turn a real event into a "duplicate".
        let headerKey = WebhookVerifier.deliveryID(configuration.verifyScheme, headers: request.headers.firstValues)
        if stripeEventID == nil, let headerKey,
            (try? await spool.hasSeen(dedupKey: headerKey)) == true
        {
            metrics.add(.duplicates)
            context.trace?.note("duplicate; the rule did not run")
            return Response.json(.ok, [("duplicate", .bool(true)), ("request_id", .string(id))])
        }
        // A full spool refuses before the rule runs: the sender retries once delivery caught up.
        if spool.cachedStats.pending >= configuration.maxSpoolEvents {
            metrics.add(.overloaded)
            throw WebhookError(
                .serviceUnavailable, "the spool holds \(configuration.maxSpoolEvents) undelivered events; retry later",
                requestID: id, retryAfter: "30")
        }
        // The rule, on a free Lua state.
        guard let run = await workers.run({ await pool.run(webhook) }) else {
            metrics.add(.overloaded)
            throw WebhookError(
                .serviceUnavailable, "every rule worker is busy; retry shortly", requestID: id, retryAfter: "1")
        }
        context.trace?.record(run.trace)
        // The rule's own key wins, then the verified Stripe event id, then the headers' delivery id.
        let dedupKey = run.dedupKey ?? stripeEventID ?? headerKey
        switch run.outcome {
        case .notFound:
            break
        case .unauthorized(let message):
            logger.info(
                "webhook.verify rejected the request", metadata: ["request_id": "\(id)", "reason": "\(message)"])
        case .overBudget(let message, let traceback):
            // Nothing was emitted and the same body fails the same way: keeping it would only let
            // requests nobody signed fill the disk.
            metrics.add(.ruleErrors)
            logger.error(
                "rule error; the request was not kept (it ran out of a limit before emitting any event)",
                metadata: ["request_id": "\(id)", "error": "\(message)", "traceback": "\(traceback ?? "")"])
        case .failed(let message, let traceback):
            context.ruleAnswered.set()
            metrics.add(.ruleErrors)
            logger.error(
                "rule error",
                metadata: ["request_id": "\(id)", "error": "\(message)", "traceback": "\(traceback ?? "")"])
            var kept = webhook
            kept.dedupKey = dedupKey
            await keep(kept, message: message, traceback: traceback)
        case .handled(let events, let ruleResponse):
            // Durable before the answer. A delivery id counts as seen only when the answer is a
            // success: a rule that answers 4xx/5xx asks the sender to retry, and the retry must run
            // the rule again.
            let succeeded = ruleResponse.map { (200..<300).contains($0.status) } ?? true
            if !events.isEmpty {
                // While delivery trails, the answer waits a little, so the sender slows to what
                // delivery sustains (a cancelled wait commits at once).
                let stats = spool.cachedStats
                let wait = pacer.wait(pending: stats.pending, delivered: stats.delivered)
                if wait > 0 { try? await Task.sleep(for: .seconds(wait)) }
            }
            let result: SpoolAcceptResult
            do {
                result = try await spool.accept(
                    requestID: id, dedupKey: succeeded ? dedupKey : nil, events: events, source: "request \(id)",
                    dedupWindow: configuration.dedupWindow)
            } catch {
                logger.error("spool write failed", metadata: ["request_id": "\(id)", "error": "\(error)"])
                throw WebhookError(
                    .serviceUnavailable, "cannot store the events; retry shortly", requestID: id, retryAfter: "5")
            }
            if result == .duplicate {
                metrics.add(.duplicates)
                context.trace?.note("duplicate; nothing stored")
                return Response.json(.ok, [("duplicate", .bool(true)), ("request_id", .string(id))])
            }
            context.ruleAnswered.set()
            metrics.add(.eventsEmitted, events.count)
            context.trace?.note(TraceBlock.eventCount(events.count))
        }
        if let refusal = run.outcome.refusal(route: route) { context.trace?.refuse(refusal.message) }
        return response(run.outcome.answer(route: route, requestID: id), id: id)
    }

    /// Keeps a request whose rule failed for `replay`, within the caps (dropping the oldest).
    private func keep(_ request: WebhookRequest, message: String, traceback: String?) async {
        do {
            let dropped = try await spool.keepFailedRequest(
                requestID: request.id, request: request.jsonValue, error: message, traceback: traceback,
                cap: configuration.keptRequestCap)
            if !dropped.isEmpty {
                metrics.add(.keptRequestsDropped, dropped.count)
                let cap = configuration.keptRequestCap
                let count = "\(dropped.count) oldest kept request\(dropped.count == 1 ? "" : "s")"
                let text =
                    "dropped the \(count) (\(dropped.joined(separator: ", "))) to stay within "
                    + "--max-kept-requests \(cap.maxCount) and --max-kept-bytes \(cap.maxBytes); replay kept "
                    + "requests sooner, or raise the caps"
                logger.warning("\(text)")
            }
        } catch {
            logger.error(
                "cannot keep the failed request", metadata: ["request_id": "\(request.id)", "error": "\(error)"])
        }
    }

    /// The answer to send, less the headers the server owns (a rule's own answer may name them).
    private func response(_ ruleResponse: WebhookResponse, id: String) -> Response {
        var fields = HTTPFields()
        for (name, value) in ruleResponse.headers {
            guard let field = HTTPField.Name(name) else { continue }
            // Framing and hop-by-hop headers belong to the server: a rule's Content-Length that
            // disagrees with its body would desynchronise a keep-alive connection.
            if Self.isServerOwnedHeader(field) {
                logger.warning(
                    "warning: the rule's response header \(name) was dropped; the server sets framing and hop-by-hop headers itself",
                    metadata: ["request_id": "\(id)"])
                continue
            }
            fields[field] = value
        }
        let status = (200...599).contains(ruleResponse.status) ? ruleResponse.status : 500
        return Response(
            status: HTTPResponse.Status(code: status), headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: ruleResponse.body)))
    }

    /// Headers a rule may not set: message framing and hop-by-hop headers (RFC 9110 7.6.1).
    static func isServerOwnedHeader(_ name: HTTPField.Name) -> Bool {
        let lower = name.canonicalName.lowercased()
        return lower.hasPrefix("proxy-")
            || ["content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade"]
                .contains(lower)
    }
}
