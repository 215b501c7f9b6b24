import EnchargeKit
import EnchargeRules
import EnchargeSpool
import Foundation
import HTTPTypes
public import Hummingbird
import JSONKit
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import WebhookSignatures

/// Everything `encharge-lua serve` needs, parsed from flags.
public struct WebhookServerConfiguration: Sendable {
    public var rule: RuleOptions
    public var host = "127.0.0.1"
    public var port = 8080
    public var spoolPath = "encharge-spool.sqlite"
    public var maxBodyBytes = 1 << 20
    public var workers = 2
    /// Requests that may wait for a free Lua state before the server answers 503.
    public var maxWaiting = 256
    /// A signature scheme checked for every route before Lua sees the body.
    public var verifyScheme: WebhookScheme?
    public var verifySecret: String?
    public var verifyOptions = WebhookVerificationOptions()
    /// A bearer token senders must present (`Authorization: Bearer ...`).
    public var authToken: String?
    public var dedupWindow: Double = 86_400
    public var delivery: DeliveryConfiguration
    /// Seconds the stop after SIGTERM/SIGINT may take before the process exits anyway (what is
    /// not delivered stays pending in the spool).
    public var drainTimeout: Double = 10
    /// Seconds between attempts while the Ingest API refuses the write key (delivery is paused).
    public var keyRetryInterval: Double = 30
    /// Failed requests kept for replay, at most (the oldest are dropped past it).
    public var keptRequestCap = SpoolKeptRequestCap()
    /// Seconds between log lines of the rule's counted warnings (when there are any).
    public var ruleWarningInterval: Double = 60
    /// Undelivered events the spool may hold; at this many, requests are answered 503 with Retry-After.
    public var maxSpoolEvents = 1_000_000
    /// Seconds a client has to send a request's headers, from connecting or from the previous
    /// response; a slower connection is closed.
    public var headerTimeout: Double = 10

    public init(rule: RuleOptions, delivery: DeliveryConfiguration) {
        self.rule = rule
        self.delivery = delivery
    }
}

/// Counters for `/metrics`. A fixed, tiny set written as Prometheus text by hand: swift-prometheus
/// would need swift-metrics bootstrapped process-wide for a dozen numbers.
final class ServerMetrics: Sendable {
    struct Values {
        var requests: [String: Int] = [:]  // "route|status"
        var ruleErrors = 0
        var eventsEmitted = 0
        var duplicates = 0
        var overloaded = 0
        var keptRequestsDropped = 0
    }
    let values = Mutex(Values())

    func request(route: String, status: Int) {
        values.withLock { $0.requests["\(route)|\(status)", default: 0] += 1 }
    }

    func text(spool: SpoolStats?, delivery: SpoolDeliveryWorkerStats?, watchdogOverruns: Int = 0) -> String {
        let v = values.withLock { $0 }
        var out = "# HELP encharge_requests_total Webhook requests by route and status.\n# TYPE encharge_requests_total counter\n"
        for (key, count) in v.requests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
            out += "encharge_requests_total{route=\"\(escape(parts[0]))\",status=\"\(parts[1])\"} \(count)\n"
        }
        out += counter("encharge_rule_errors_total", "Requests whose rule raised an error.", v.ruleErrors)
        out += counter("encharge_events_emitted_total", "Events emitted by rules and spooled.", v.eventsEmitted)
        out += counter("encharge_duplicate_requests_total", "Requests answered from the dedup window.", v.duplicates)
        out += counter("encharge_overloaded_total", "Requests answered 503 because every Lua state was busy or the spool was full.", v.overloaded)
        out += counter(
            "encharge_rule_watchdog_total", "Rule calls stuck in a library call past 2x the time limit; each replaced its worker.",
            watchdogOverruns)
        out += counter(
            "encharge_kept_requests_dropped_total", "Oldest kept failed requests deleted to stay within the cap.",
            v.keptRequestsDropped)
        if let d = delivery {
            out += counter("encharge_events_delivered_total", "Events the Ingest API accepted.", d.delivered)
            out += counter("encharge_events_retried_total", "Delivery retries.", d.retried)
            out += counter("encharge_events_dead_total", "Events given up on (kept in the spool).", d.dead)
            out += "# HELP encharge_delivery_latency_seconds Ingest request latency.\n# TYPE encharge_delivery_latency_seconds summary\n"
            out += "encharge_delivery_latency_seconds{quantile=\"0.5\"} \(d.p50)\nencharge_delivery_latency_seconds{quantile=\"0.99\"} \(d.p99)\n"
        }
        if let s = spool {
            out += "# HELP encharge_spool_depth Events waiting in the spool.\n# TYPE encharge_spool_depth gauge\nencharge_spool_depth \(s.pending)\n"
            out += "# HELP encharge_spool_dead Dead events kept in the spool.\n# TYPE encharge_spool_dead gauge\nencharge_spool_dead \(s.dead)\n"
        }
        return out
    }

    private func counter(_ name: String, _ help: String, _ value: Int) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n"
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

/// The delivery worker's counters as one Sendable value.
public struct SpoolDeliveryWorkerStats: Sendable {
    public var delivered = 0, retried = 0, dead = 0, inFlight = 0
    public var p50 = 0.0, p99 = 0.0
}

struct WebhookContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String?

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// Whether the rule answered a request (so its route names the metric series); one request's task only.
final class RuledFlag {
    var value = false
}

/// How long every rule worker has been busy without one coming free, for `/healthz`.
final class WorkerAvailability: Sendable {
    let size: Int
    /// Requests inside the pool (running or waiting), when they last reached `size`, and when a
    /// request last left it (seconds of system uptime).
    private let state = Mutex((inside: 0, allBusySince: 0.0, lastFreed: 0.0))

    init(size: Int) {
        self.size = size
    }

    /// Runs `body` (a request on the pool), counted.
    func run<T>(_ body: () async -> T) async -> T {
        state.withLock { state in
            state.inside += 1
            if state.inside == size { state.allBusySince = ProcessInfo.processInfo.systemUptime }
        }
        let result = await body()
        state.withLock { state in
            state.inside -= 1
            state.lastFreed = ProcessInfo.processInfo.systemUptime
        }
        return result
    }

    /// Seconds since a worker was last free, or nil while one is free now.
    func stalledSeconds() -> Double? {
        state.withLock { state in
            guard state.inside >= size else { return nil }
            return ProcessInfo.processInfo.systemUptime - max(state.allBusySince, state.lastFreed)
        }
    }
}

/// Handles one webhook request end to end: limits, auth, signature, dedup, the rule, the spool.
struct WebhookEndpoint: Sendable {
    let configuration: WebhookServerConfiguration
    let pool: RulePool
    let workers: WorkerAvailability
    let spool: Spool
    let metrics: ServerMetrics
    let logger: Logger
    static let requestIDField = HTTPField.Name("X-Request-Id")!
    static let counter = Atomic<Int>(0)

    func handle(_ request: Request, context: WebhookContext) async -> Response {
        let id = Self.makeRequestID()
        let route = "\(request.method.rawValue) \(request.uri.path)"
        let ruled = RuledFlag()
        var response = await respond(request, context: context, id: id, route: route, ruled: ruled)
        response.headers[Self.requestIDField] = id
        // Label by route only where routes are bounded: a routes table, and a request the rule
        // answered (`ruled`). Refusals without it (size, auth, signature, malformed, duplicate,
        // overload) share "unmatched", so clients cannot grow the metric set.
        let status = Int(response.status.code)
        let label = pool.routesDefined && ruled.value && status != 404 ? route : (pool.routesDefined ? "unmatched" : "on_webhook")
        metrics.request(route: label, status: status)
        return response
    }

    private func respond(
        _ request: Request, context: WebhookContext, id: String, route: String, ruled: RuledFlag
    ) async -> Response {
        // 1. Size: refuse from Content-Length before reading; cap what a chunked body may send.
        if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maxBodyBytes {
            return Self.error(.contentTooLarge, "the body is larger than \(configuration.maxBodyBytes) bytes", id: id)
        }
        let body: [UInt8]
        do {
            let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
            body = Array(buffer.readableBytesView)
        } catch {
            return Self.error(.contentTooLarge, "the body is larger than \(configuration.maxBodyBytes) bytes", id: id)
        }
        var headers: [(String, String)] = []
        for field in request.headers { headers.append((field.name.canonicalName, field.value)) }
        let webhook = WebhookRequest(
            id: id, method: request.method.rawValue, path: request.uri.path,
            query: request.uri.queryParameters.map { (String($0.key), String($0.value)) },
            headers: headers, body: body, remoteIP: context.remoteAddress)

        // 2. Bearer token.
        if let token = configuration.authToken {
            let presented = webhook.header("authorization") ?? ""
            let scheme = presented.prefix(7).lowercased()
            let credential = Array(presented.utf8.dropFirst(7))
            guard scheme == "bearer ", WebhookVerifier.constantTimeEquals(credential, Array(token.utf8)) else {
                return Self.error(.unauthorized, "missing or wrong bearer token", id: id)
            }
        }
        // 3. Signature, before Lua sees the body.
        if let scheme = configuration.verifyScheme, let secret = configuration.verifySecret {
            do {
                try WebhookVerifier.verify(scheme, headers: webhook.headerDictionary, body: body, secret: secret, options: configuration.verifyOptions)
            } catch let error as WebhookVerificationError {
                logger.info("signature rejected", metadata: ["request_id": "\(id)", "reason": "\(error.description)"])
                return Self.error(.unauthorized, "signature verification failed: \(error.description)", id: id)
            } catch {
                return Self.error(.unauthorized, "signature verification failed", id: id)
            }
        }
        // 4. Malformed input never reaches the rule. A verified Stripe body is read for its event
        // id in the same pass that validates it.
        var stripeEventID: String?
        if webhook.isJSON {
            do {
                if configuration.verifyScheme == .stripe {
                    stripeEventID = try StripeEventID.find(in: body)
                } else {
                    try JSONParser.validate(body)
                }
            } catch {
                return Self.error(.badRequest, "the body is not valid JSON: \(error.description)", id: id)
            }
        } else if !body.isEmpty, webhook.isForm || (webhook.header("content-type")?.lowercased().hasPrefix("text/") ?? false) {
            guard String(validating: body, as: UTF8.self) != nil else {
                return Self.error(.badRequest, "the body is not valid UTF-8", id: id)
            }
            if webhook.isForm {
                do { _ = try parseForm(body) } catch {
                    return Self.error(.badRequest, error.description, id: id)
                }
            }
        }
        // 5. Dedup on the delivery id of the headers, before the rule runs. Keys found in the body
        // (a Stripe event id) or set by the rule (`webhook.dedup`) are checked when the events are
        // stored, inside the spool's transaction, so no request pays an extra SQLite read for them.
        // With --verify, only the verified scheme's own id counts (none for stripe and hmac): an
        // unsigned header anyone can set must not turn a real event into a "duplicate".
        let headerKey = WebhookVerifier.deliveryID(configuration.verifyScheme, headers: webhook.headerDictionary)
        if stripeEventID == nil, let headerKey,
            (try? await spool.hasSeenAsync(dedupKey: headerKey, window: configuration.dedupWindow)) == true
        {
            metrics.values.withLock { $0.duplicates += 1 }
            return Self.json(.ok, [("duplicate", .bool(true)), ("request_id", .string(id))])
        }
        // 6. A full spool refuses before the rule runs: the sender retries once delivery caught up.
        if spool.cachedStats.pending >= configuration.maxSpoolEvents {
            metrics.values.withLock { $0.overloaded += 1 }
            var response = Self.error(
                .serviceUnavailable, "the spool holds \(configuration.maxSpoolEvents) undelivered events; retry later",
                id: id)
            response.headers[.retryAfter] = "30"
            return response
        }
        // 7. The rule, on a free Lua state.
        guard let run = await workers.run({ await pool.run(webhook) }) else {
            metrics.values.withLock { $0.overloaded += 1 }
            var response = Self.error(.serviceUnavailable, "every rule worker is busy; retry shortly", id: id)
            response.headers[.retryAfter] = "1"
            return response
        }
        // The rule's own key wins, then the verified Stripe event id, then the headers' delivery id.
        let dedupKey = run.dedupKey ?? stripeEventID ?? headerKey
        let outcome = run.outcome
        switch outcome {
        case .notFound:
            return Self.error(.notFound, "no route for \(route)", id: id)
        case .unauthorized(let message):
            logger.info("webhook.verify rejected the request", metadata: ["request_id": "\(id)", "reason": "\(message)"])
            return Self.error(.unauthorized, "signature verification failed", id: id)
        case .overBudget(let message, let traceback):
            // Nothing was emitted and the same body fails the same way: keeping it would only let
            // requests nobody signed fill the disk.
            metrics.values.withLock { $0.ruleErrors += 1 }
            logger.error(
                "rule error; the request was not kept (it ran out of a limit before emitting any event)",
                metadata: ["request_id": "\(id)", "error": "\(message)", "traceback": "\(traceback ?? "")"])
            return Self.error(.internalServerError, "the rule failed on a limit; the request was not kept", id: id)
        case .failed(let message, let traceback):
            ruled.value = true
            metrics.values.withLock { $0.ruleErrors += 1 }
            logger.error("rule error", metadata: ["request_id": "\(id)", "error": "\(message)", "traceback": "\(traceback ?? "")"])
            var kept = webhook
            kept.dedupKey = dedupKey
            do {
                let dropped = try await spool.keepFailedRequest(
                    requestID: id, request: kept.jsonValue, error: message, traceback: traceback,
                    cap: configuration.keptRequestCap)
                if !dropped.isEmpty {
                    metrics.values.withLock { $0.keptRequestsDropped += dropped.count }
                    let cap = configuration.keptRequestCap
                    let count = "\(dropped.count) oldest kept request\(dropped.count == 1 ? "" : "s")"
                    let text = "dropped the \(count) (\(dropped.joined(separator: ", "))) to stay within "
                        + "--max-kept-requests \(cap.maxCount) and --max-kept-bytes \(cap.maxBytes); replay kept "
                        + "requests sooner, or raise the caps"
                    logger.warning("\(text)")
                }
            } catch {
                logger.error("cannot keep the failed request", metadata: ["request_id": "\(id)", "error": "\(error)"])
            }
            return Self.error(.internalServerError, "the rule failed; the request was kept for replay", id: id)
        case .handled(let events, let ruleResponse):
            // 7. Durable before the answer.
            // A delivery id counts as seen only when the answer is a success: a rule that answers
            // 4xx/5xx asks the sender to retry, and the retry must run the rule again.
            let succeeded = ruleResponse.map { (200..<300).contains($0.status) } ?? true
            let result: SpoolAcceptResult
            do {
                result = try await spool.accept(requestID: id, dedupKey: succeeded ? dedupKey : nil, events: events, source: "request \(id)", dedupWindow: configuration.dedupWindow)
            } catch {
                logger.error("spool write failed", metadata: ["request_id": "\(id)", "error": "\(error)"])
                var response = Self.error(.serviceUnavailable, "cannot store the events; retry shortly", id: id)
                response.headers[.retryAfter] = "5"
                return response
            }
            if result == .duplicate {
                metrics.values.withLock { $0.duplicates += 1 }
                return Self.json(.ok, [("duplicate", .bool(true)), ("request_id", .string(id))])
            }
            ruled.value = true
            metrics.values.withLock { $0.eventsEmitted += events.count }
            guard let ruleResponse else {
                return Self.json(.accepted, [("accepted", .integer(Int64(events.count)))])
            }
            var fields = HTTPFields()
            for (name, value) in ruleResponse.headers {
                guard let field = HTTPField.Name(name) else { continue }
                // Framing and hop-by-hop headers belong to the server: a rule's Content-Length
                // that disagrees with its body would desynchronise a keep-alive connection.
                if Self.isServerOwnedHeader(field) {
                    logger.warning(
                        "warning: the rule's response header \(name) was dropped; the server sets framing and hop-by-hop headers itself",
                        metadata: ["request_id": "\(id)"])
                    continue
                }
                fields[field] = value
            }
            return Response(
                status: HTTPResponse.Status(code: (200...599).contains(ruleResponse.status) ? ruleResponse.status : 500), headers: fields,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: ruleResponse.body)))
        }
    }

    /// Headers a rule may not set: message framing and hop-by-hop headers (RFC 9110 7.6.1).
    static func isServerOwnedHeader(_ name: HTTPField.Name) -> Bool {
        let lower = name.canonicalName.lowercased()
        return lower.hasPrefix("proxy-") || [
            "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
        ].contains(lower)
    }

    static func makeRequestID() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        let random = UInt32.random(in: 0...UInt32.max)
        return "req_" + String(random, radix: 16) + String(n, radix: 16)
    }

    static func json(_ status: HTTPResponse.Status, _ members: [(String, JSONValue)]) -> Response {
        var writer = JSONWriter()
        writer.write(.object(JSONObject(members)))
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, id: String) -> Response {
        json(status, [("error", .object(JSONObject([("message", .string(message)), ("request_id", .string(id))])))])
    }
}

/// Builds the webhook application: `/healthz`, `/metrics`, and every other path to the rule.
func buildWebhookApplication(
    configuration: WebhookServerConfiguration, pool: RulePool, spool: Spool, worker: SpoolDeliveryWorker,
    logger: Logger, onListening: @escaping @Sendable (Int) async -> Void
) -> some ApplicationProtocol {
    let metrics = ServerMetrics()
    let router = Router(context: WebhookContext.self)
    let workers = WorkerAvailability(size: configuration.workers)
    // Reads only in-memory state (the spool's counts are kept by its writer thread), so a busy
    // disk never blocks the cooperative pool here.
    router.get("/healthz") { _, _ -> Response in
        // A failed commit is reported for 5 s; after that a probe commit checks again, so the
        // probe sees a disk that recovered even while no request arrives.
        if let failure = spool.lastCommitFailure, failure.age >= 5 { await spool.probeCommit() }
        if let reason = healthProblem(configuration: configuration, spool: spool, worker: worker, workers: workers) {
            return WebhookEndpoint.json(.serviceUnavailable, [("status", .string(reason))])
        }
        return WebhookEndpoint.json(.ok, [
            ("status", .string("ok")), ("rules", .string(configuration.rule.rulesPath)),
            ("rule_watchdog_overruns", .integer(Int64(pool.watchdogOverruns))),
        ])
    }
    router.get("/metrics") { _, _ -> Response in
        let s = worker.stats()
        let text = metrics.text(
            spool: spool.cachedStats,
            delivery: SpoolDeliveryWorkerStats(delivered: s.delivered, retried: s.retried, dead: s.dead, inFlight: s.inFlight, p50: s.p50, p99: s.p99),
            watchdogOverruns: pool.watchdogOverruns)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
    let endpoint = WebhookEndpoint(
        configuration: configuration, pool: pool, workers: workers, spool: spool, metrics: metrics, logger: logger)
    for method in [HTTPRequest.Method.post, .put, .patch, .delete, .get] {
        router.on("/", method: method) { request, context in await endpoint.handle(request, context: context) }
        router.on("/**", method: method) { request, context in await endpoint.handle(request, context: context) }
    }
    let port = configuration.port
    return Application(
        router: router,
        // Slow or half-open clients are closed after 30 s without a byte, and when a request's
        // headers take longer than --header-timeout; header limits answer oversized headers with
        // an error instead of buffering them.
        server: .http1(configuration: .init(
            additionalChannelHandlers: [
                HeaderTimeoutHandler(timeout: .nanoseconds(Int64(configuration.headerTimeout * 1_000_000_000)))
            ],
            idleTimeout: .seconds(30),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 << 10, maxHeaderListSize: 64 << 10, maxHeaderFieldCount: 200))),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: port), serverName: "encharge-lua",
            availableConnectionsDelegate: ConnectionLimit.forDescriptorLimit()),
        onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
        logger: logger)
}

/// Why `/healthz` answers 503, or nil when the server can take and keep requests.
func healthProblem(
    configuration: WebhookServerConfiguration, spool: Spool, worker: SpoolDeliveryWorker, workers: WorkerAvailability
) -> String? {
    if let status = worker.refusedWriteKeyStatus {
        return refusedKeyMessage(status, writeKeySource: configuration.delivery.writeKeySource)
    }
    if let failure = spool.lastCommitFailure { return "the spool cannot commit: \(failure.reason)" }
    let pending = spool.cachedStats.pending
    if pending >= configuration.maxSpoolEvents {
        return "the spool holds \(pending) undelivered events, the cap is \(configuration.maxSpoolEvents) (--max-spool-events)"
    }
    let limit = configuration.rule.limits.seconds
    if let stalled = workers.stalledSeconds(), stalled > limit {
        return "no rule worker has been free for \(Int(stalled)) s, longer than the time limit (\(limit) s)"
    }
    return nil
}

/// Drains the spool in the background for as long as the server runs. The worker is started once
/// the server listens (a server that cannot bind its port delivers nothing).
struct SpoolDeliveryService: Service {
    let worker: SpoolDeliveryWorker
    let drainTimeout: Double
    let notice: DrainTimeoutNotice

    func run() async throws {
        try? await gracefulShutdown()
        if await worker.shutdown(timeout: drainTimeout) { notice.write(drainTimeout: drainTimeout) }
    }
}

/// The warning that the drain timeout ran out, written once: by the delivery service when the
/// engine abandoned requests at the timeout, or by `ShutdownDeadline` when the stop overran it.
final class DrainTimeoutNotice: Sendable {
    private let written = Atomic<Bool>(false)

    func write(drainTimeout: Double) {
        guard !written.exchange(true, ordering: .relaxed) else { return }
        let seconds = Int(exactly: drainTimeout).map(String.init) ?? "\(drainTimeout)"
        Diagnostics.write(
            "warning: the drain timeout (\(seconds) s) ran out; events not yet delivered stay pending in the spool for the next start")
    }
}

/// The log line and `/healthz` reason while the Ingest API refuses the write key.
/// `writeKeySource` names where the key came from (`ENCHARGE_WRITE_KEY` or `--write-key-file PATH`).
func refusedKeyMessage(_ status: Int, writeKeySource: String) -> String {
    "the Ingest API refused the write key (HTTP \(status)); check \(writeKeySource)"
}

/// Why `serve` could not start: one sentence (printed after `error: `).
public struct WebhookServerError: Error, CustomStringConvertible {
    public var description: String
}

/// Runs `encharge-lua serve` until SIGTERM/SIGINT: stop accepting, finish in-flight requests,
/// stop delivery cleanly, within `drainTimeout` (a second signal exits at once). SIGHUP reloads
/// the rule (a broken rule is refused, the old one serves).
///
/// Refuses to start (throws) when the rule does not load, another process owns the spool, the
/// spool cannot be opened, or the port cannot be bound; nothing is delivered then.
public func runWebhookServer(configuration: WebhookServerConfiguration) async throws {
    var logger = Logger(label: "encharge-lua.serve") { EscapingLogHandler.standardError(label: $0) }
    logger.logLevel = .info
    let pool = try RulePool(
        options: configuration.rule, size: configuration.workers, maxWaiting: configuration.maxWaiting
    ) { [logger] message in
        logger.error("rule worker replaced", metadata: ["error": "\(message)"])
    }
    defer { pool.stop() }
    let owner: SpoolOwnerLock
    let spool: Spool
    do {
        owner = try SpoolOwnerLock(spoolPath: configuration.spoolPath)
        spool = try Spool(path: configuration.spoolPath)
    } catch {
        throw WebhookServerError(description: error.description)
    }
    let worker = try SpoolDeliveryWorker(
        spool: spool, configuration: configuration.delivery,
        refusalPolicy: WriteKeyRefusalPolicy(retryInterval: configuration.keyRetryInterval)
    ) { [logger] status in
        if let status {
            Diagnostics.write("error: " + refusedKeyMessage(status, writeKeySource: configuration.delivery.writeKeySource))
        } else {
            logger.info("the Ingest API accepted the write key; delivery resumed")
        }
    }
    let app = buildWebhookApplication(
        configuration: configuration, pool: pool, spool: spool, worker: worker, logger: logger
    ) { port in
        writeServeLine("encharge-lua serve listening on http://\(configuration.host):\(port)/ (spool \(configuration.spoolPath))")
        worker.start()
    }
    // A file-size limit (RLIMIT_FSIZE) must fail the spool's commit (answered 503, reported on
    // /healthz) like a full disk, not kill the server.
    signal(SIGXFSZ, SIG_IGN)
    let reloader = SignalReloader(pool: pool, logger: logger)
    let notice = DrainTimeoutNotice()
    let warnings = RuleWarningReporter(pool: pool, interval: configuration.ruleWarningInterval)
    let deadline = ShutdownDeadline(worker: worker, drainTimeout: configuration.drainTimeout, notice: notice)
    let delivery = SpoolDeliveryService(worker: worker, drainTimeout: configuration.drainTimeout, notice: notice)
    // Services stop in reverse order: the deadline is listed first so it watches the whole stop.
    let group = ServiceGroup(
        configuration: .init(
            services: [deadline, warnings, app, delivery, reloader],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    do {
        try await group.run()
    } catch let error as IOError {
        let reason = String(cString: strerror(error.errnoCode))
        throw WebhookServerError(
            description: "cannot listen on \(configuration.host):\(configuration.port): \(reason.prefix(1).lowercased() + reason.dropFirst())")
    } catch let error as SocketAddressError {
        throw WebhookServerError(description: "cannot listen on \(configuration.host):\(configuration.port): \(error)")
    }
    withExtendedLifetime(owner) {}
}

/// Bounds the stop. After the first SIGTERM/SIGINT the stop may take `drainTimeout` seconds (and
/// one more for the spool to record what was settled); then the process exits 0 anyway, and the
/// events not delivered stay pending in the spool for the next start. A second signal exits at
/// once with 130. Listed first in the service group, so it stops last.
struct ShutdownDeadline: Service {
    let worker: SpoolDeliveryWorker
    let drainTimeout: Double
    let notice: DrainTimeoutNotice

    func run() async throws {
        let signals = SignalCount()
        let worker = self.worker
        let drainTimeout = self.drainTimeout
        let notice = self.notice
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let count = signals.value.add(1, ordering: .relaxed).newValue
                if count == 1 {
                    Thread.detachNewThread {
                        // Half a second more, so a stop that ends right at the timeout ends cleanly.
                        Thread.sleep(forTimeInterval: drainTimeout + 0.5)
                        notice.write(drainTimeout: drainTimeout)
                        worker.recordSettlements()
                        exit(0)
                    }
                } else {
                    Diagnostics.write("warning: stopping now (second signal); events not yet delivered stay pending in the spool")
                    exit(130)
                }
            }
            source.resume()
            return source
        }
        try? await gracefulShutdown()
        for source in sources { source.cancel() }
    }

    /// Signals received, shared by the handlers of SIGTERM and SIGINT.
    final class SignalCount: Sendable {
        let value = Atomic<Int>(0)
    }
}

/// Writes the rule's counted warnings (`warning: 3 tags contained a comma; ...`) every `interval`
/// seconds when there are any, and once more when the server stops (after the last request).
struct RuleWarningReporter: Service {
    let pool: RulePool
    let interval: Double

    func run() async throws {
        repeat {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) }
            report()
        } while !Task.isShuttingDownGracefully && !Task.isCancelled
    }

    private func report() {
        for line in pool.takeRunWarnings().lines() { Diagnostics.write(line) }
    }
}

/// Reloads the rule on SIGHUP.
struct SignalReloader: Service {
    let pool: RulePool
    let logger: Logger

    func run() async throws {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let pool = self.pool
        let logger = self.logger
        source.setEventHandler {
            do {
                try pool.reload()
                logger.info("rules reloaded")
            } catch let error as RuleLoadError {
                logger.error("rules not reloaded, the old rules keep serving: \(error.description)")
            } catch {
                logger.error("rules not reloaded, the old rules keep serving: \(error)")
            }
        }
        source.resume()
        try? await gracefulShutdown()
        source.cancel()
    }
}

func writeServeLine(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = Glibc.write(1, $0.baseAddress, $0.count) }
}
