import EnchargeKit
import EnchargeRules
import EnchargeSpool
import Hummingbird
import JSONKit
import LuaKit
import NIOCore

/// `GET /healthz` and `GET /metrics`. Both read only in-memory state (the spool's counts are kept
/// by its writer thread), so a busy disk never blocks the cooperative pool here.
struct ServerStatusController: Sendable {
    let configuration: WebhookServerConfiguration
    let pool: RulePool
    let workers: WorkerAvailability
    let spool: any EventSpool
    /// Nil when this server does not deliver (`--no-deliver`).
    let worker: SpoolDeliveryWorker?
    let metrics: WebhookMetrics
    let pacer: AcceptancePacer

    /// The routes, for `addRoutes(_:)`.
    var endpoints: RouteCollection<WebhookRequestContext> {
        RouteCollection(context: WebhookRequestContext.self)
            .get("/healthz", use: health)
            .get("/metrics", use: metricsText)
    }

    @Sendable func health(_ request: Request, context: WebhookRequestContext) async throws -> Response {
        // A failed commit is reported for 5 s; after that a probe commit checks again, so the
        // probe sees a disk that recovered even while no request arrives.
        if let failure = spool.lastCommitFailure, failure.age >= 5 { await spool.probeCommit() }
        if let reason = healthProblem() {
            return Response.json(.serviceUnavailable, [("status", .string(reason))])
        }
        return Response.json(
            .ok,
            [
                ("status", .string("ok")), ("rules", .string(configuration.rule.rulesPath)),
                ("rule_watchdog_overruns", .integer(Int64(pool.watchdogOverruns))),
            ])
    }

    @Sendable func metricsText(_ request: Request, context: WebhookRequestContext) async throws -> Response {
        let stats = spool.cachedStats
        let pacing = pacer.figures(delivered: stats.delivered)
        let text = metrics.text(
            spool: stats, delivery: worker?.stats(), watchdogOverruns: pool.watchdogOverruns,
            pacing: (pacer.limit, pacing.rate, pacing.paced, pacing.waited))
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Why `/healthz` answers 503, or nil when the server can take and keep requests.
    func healthProblem() -> String? {
        if let status = worker?.refusedWriteKeyStatus, let delivery = configuration.delivery {
            return refusedKeyMessage(status, writeKeySource: delivery.writeKeySource)
        }
        if let failure = spool.lastCommitFailure { return "the spool cannot commit: \(failure.reason)" }
        let pending = spool.cachedStats.pending
        if pending >= configuration.maxSpoolEvents {
            return
                "the spool holds \(pending) undelivered events, the cap is \(configuration.maxSpoolEvents) (--max-spool-events)"
        }
        let limit = configuration.rule.limits.seconds
        if let stalled = workers.stalledSeconds(), stalled > limit {
            return "no rule worker has been free for \(Int(stalled)) s, longer than the time limit (\(limit) s)"
        }
        return nil
    }
}

/// The log line and `/healthz` reason while the Ingest API refuses the write key (also `deliver`'s).
/// `writeKeySource` names where the key came from (`ENCHARGE_WRITE_KEY` or `--write-key-file PATH`).
package func refusedKeyMessage(_ status: Int, writeKeySource: String) -> String {
    "the Ingest API refused the write key (HTTP \(status)); check \(writeKeySource)"
}
