import EnchargeKit
import EnchargeRules
import EnchargeSpool
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SystemKit
import UnixSignals

/// Runs `encharge-lua serve` on `spool` until SIGTERM/SIGINT: stop accepting, finish in-flight
/// requests, stop delivery cleanly, within `drainTimeout` (a second signal exits at once). SIGHUP
/// reloads the rule (a broken rule is refused, the old one serves). Without a delivery
/// configuration (`--no-deliver`) it only accepts: other processes deliver the spool.
///
/// Refuses to start (throws) when the rule does not load or the port cannot be bound; nothing is
/// delivered then. The command opens the spool (`SpoolOpening`), so this knows only the protocol.
///
/// The line `encharge-lua serve listening on http://HOST:PORT/ (spool NAME)` goes to `output`, the
/// spool named by its `displayName` (a URL without its password); the server's warnings and errors
/// go to `errors` (its log, to standard error).
package func runWebhookServer(
    configuration: WebhookServerConfiguration, spool: any EventSpool, output: any OutputWriter,
    errors: any OutputWriter
) async throws {
    var logger = Logger(label: "encharge-lua.serve") { EscapingLogHandler.standardError(label: $0) }
    logger.logLevel = .info
    let pool = try RulePool(
        options: configuration.rule, size: configuration.workers, maxWaiting: configuration.maxWaiting
    ) { [logger] message in
        logger.error("rule worker replaced", metadata: ["error": "\(message)"])
    }
    defer { pool.stop() }
    let worker = try configuration.delivery.map { delivery in
        try SpoolDeliveryWorker(
            spool: spool, configuration: delivery,
            refusalPolicy: WriteKeyRefusalPolicy(retryInterval: configuration.keyRetryInterval)
        ) { [logger] status in
            if let status {
                errors.writeDiagnosticLine(
                    "error: " + refusedKeyMessage(status, writeKeySource: delivery.writeKeySource))
            } else {
                logger.info("the Ingest API accepted the write key; delivery resumed")
            }
        }
    }
    let app = buildApplication(
        configuration: configuration, pool: pool, spool: spool, worker: worker, logger: logger, errors: errors
    ) { port in
        output.write(
            "encharge-lua serve listening on http://\(configuration.host):\(port)/ (spool \(spool.displayName))\n"
        )
        worker?.start()
    }
    // A file-size limit (RLIMIT_FSIZE) must fail the spool's commit (answered 503, reported on
    // /healthz) like a full disk, not kill the server. A SIGHUP before the reload service listens
    // is ignored rather than ending the process.
    signal(SIGXFSZ, SIG_IGN)
    signal(SIGHUP, SIG_IGN)
    let reloader = RuleReloadService(pool: pool, logger: logger)
    let notice = DrainTimeoutNotice(errors: errors)
    let warnings = RuleWarningReporter(pool: pool, interval: configuration.ruleWarningInterval, errors: errors)
    let deadline = ShutdownDeadline(
        worker: worker, drainTimeout: configuration.drainTimeout, notice: notice, errors: errors)
    let delivery: [any Service] =
        worker.map {
            [SpoolDeliveryService(worker: $0, drainTimeout: configuration.drainTimeout, notice: notice)]
        } ?? []
    // Services stop in reverse order: the deadline is listed first so it watches the whole stop.
    let group = ServiceGroup(
        configuration: .init(
            services: [deadline, warnings, app] + delivery + [reloader],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    do {
        try await group.run()
    } catch let error as IOError {
        let reason = String(cString: strerror(error.errnoCode))
        throw WebhookServerError(
            description:
                "cannot listen on \(configuration.host):\(configuration.port): \(reason.prefix(1).lowercased() + reason.dropFirst())"
        )
    } catch let error as SocketAddressError {
        throw WebhookServerError(description: "cannot listen on \(configuration.host):\(configuration.port): \(error)")
    }
}

/// The webhook application: `/healthz`, `/metrics`, and every other path to the rule. `worker` is
/// nil when this server does not deliver (`--no-deliver`).
/// `onListening` runs once the socket is bound, with the real port when the configuration asked
/// for port 0; the warning that connections reached the descriptor limit goes to `errors`.
func buildApplication(
    configuration: WebhookServerConfiguration, pool: RulePool, spool: any EventSpool, worker: SpoolDeliveryWorker?,
    logger: Logger, errors: any OutputWriter, onListening: @escaping @Sendable (Int) async -> Void
) -> some ApplicationProtocol {
    let router = buildRouter(
        configuration: configuration, pool: pool, spool: spool, worker: worker, metrics: WebhookMetrics(),
        logger: logger)
    let port = configuration.port
    return Application(
        router: router,
        // Slow or half-open clients are closed after 30 s without a byte, and when a request's
        // headers take longer than --header-timeout; header limits answer oversized headers with
        // an error instead of buffering them.
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    HeaderTimeoutHandler(timeout: .nanoseconds(Int64(configuration.headerTimeout * 1_000_000_000)))
                ],
                idleTimeout: .seconds(30),
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: 16 << 10, maxHeaderListSize: 64 << 10, maxHeaderFieldCount: 200))),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: port), serverName: "encharge-lua",
            availableConnectionsDelegate: ConnectionLimit.forDescriptorLimit(errors: errors)),
        onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
        logger: logger)
}

/// The routes: the status endpoints on their own, and the webhook routes behind the request id,
/// the `--trace` block, the metrics, the body limit, the bearer token and the signature check, in that order.
func buildRouter(
    configuration: WebhookServerConfiguration, pool: RulePool, spool: any EventSpool, worker: SpoolDeliveryWorker?,
    metrics: WebhookMetrics, logger: Logger
) -> Router<WebhookRequestContext> {
    let router = Router(context: WebhookRequestContext.self)
    let workers = WorkerAvailability(size: configuration.workers)
    let pacer = AcceptancePacer(limit: configuration.paceBacklog)
    router.addRoutes(
        ServerStatusController(
            configuration: configuration, pool: pool, workers: workers, spool: spool, worker: worker, metrics: metrics,
            pacer: pacer
        ).endpoints)
    let webhooks = router.group()
        .add(middleware: RequestIDMiddleware())
    if configuration.rule.trace { webhooks.add(middleware: TraceMiddleware(configuration: configuration)) }
    webhooks
        .add(middleware: WebhookMetricsMiddleware(metrics: metrics, routesDefined: pool.routesDefined))
        .add(middleware: BodyLimitMiddleware(maxBodyBytes: configuration.maxBodyBytes))
    if let token = configuration.authToken {
        webhooks.add(middleware: BearerAuthMiddleware(token: token))
    }
    if let scheme = configuration.verifyScheme, let secret = configuration.verifySecret {
        webhooks.add(
            middleware: SignatureMiddleware(
                scheme: scheme, secret: secret, options: configuration.verifyOptions, logger: logger))
    }
    webhooks.addRoutes(
        WebhookController(
            configuration: configuration, pool: pool, workers: workers, spool: spool, metrics: metrics, pacer: pacer,
            logger: logger
        ).endpoints)
    return router
}
