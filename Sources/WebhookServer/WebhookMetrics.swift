import EnchargeSpool
import Foundation
import HTTPTypes
import Synchronization

/// Counters for `/metrics`. A fixed, tiny set written as Prometheus text by hand: swift-prometheus
/// would need swift-metrics bootstrapped process-wide for a dozen numbers.
final class WebhookMetrics: Sendable {
    /// The `route` label of `encharge_requests_total`. Routes are named only where they are
    /// bounded (a routes table, on a request the rule answered), so clients cannot grow the set.
    enum Route: Hashable, Sendable {
        /// Any request of a rule that defines `on_webhook(req)` and no routes table.
        case onWebhook
        /// A request refused before the rule answered it (size, auth, signature, malformed,
        /// duplicate, overload, no route), under a routes table.
        case unmatched
        /// `METHOD /path` of the routes table entry that answered.
        case route(String)

        var label: String {
            switch self {
            case .onWebhook: "on_webhook"
            case .unmatched: "unmatched"
            case .route(let name): name
            }
        }
    }

    /// One series of `encharge_requests_total`.
    struct RequestSeries: Hashable, Sendable {
        let route: Route
        let status: HTTPResponse.Status

        /// The order series are written in: by route label, then by the status code's digits.
        var sortKey: String { "\(route.label)|\(status.code)" }
    }

    /// The plain counters, each a Prometheus counter of its own.
    enum Counter: Sendable {
        case ruleErrors, eventsEmitted, duplicates, overloaded, keptRequestsDropped
    }

    private struct Values {
        var requests: [RequestSeries: Int] = [:]
        var counters: [Counter: Int] = [:]
    }
    private let values = Mutex(Values())

    /// Counts one answered request.
    func request(route: Route, status: HTTPResponse.Status) {
        values.withLock { $0.requests[RequestSeries(route: route, status: status), default: 0] += 1 }
    }

    /// Adds `amount` to `counter`.
    func add(_ counter: Counter, _ amount: Int = 1) {
        values.withLock { $0.counters[counter, default: 0] += amount }
    }

    /// The Prometheus text exposition of every counter, the delivery worker's figures, the
    /// spool's depth and the pacing of acceptance (`AcceptancePacer`).
    func text(
        spool: SpoolStats?,
        delivery: (delivered: Int, retried: Int, dead: Int, inFlight: Int, p50: Double, p99: Double)?,
        watchdogOverruns: Int = 0,
        pacing: (limit: Double, rate: Double, paced: Int, waited: Double)? = nil
    ) -> String {
        let v = values.withLock { $0 }
        let count = { (counter: Counter) in v.counters[counter] ?? 0 }
        var out =
            "# HELP encharge_requests_total Webhook requests by route and status.\n"
            + "# TYPE encharge_requests_total counter\n"
        for (series, total) in v.requests.sorted(by: { $0.key.sortKey < $1.key.sortKey }) {
            out +=
                "encharge_requests_total{route=\"\(escape(series.route.label))\",status=\"\(series.status.code)\"} \(total)\n"
        }
        out += counter("encharge_rule_errors_total", "Requests whose rule raised an error.", count(.ruleErrors))
        out += counter("encharge_events_emitted_total", "Events emitted by rules and spooled.", count(.eventsEmitted))
        out += counter(
            "encharge_duplicate_requests_total", "Requests answered from the dedup window.", count(.duplicates))
        out += counter(
            "encharge_overloaded_total",
            "Requests answered 503 because every Lua state was busy or the spool was full.",
            count(.overloaded))
        out += counter(
            "encharge_rule_watchdog_total",
            "Rule calls stuck in a library call past 2x the time limit; each replaced its worker.", watchdogOverruns)
        out += counter(
            "encharge_kept_requests_dropped_total", "Oldest kept failed requests deleted to stay within the cap.",
            count(.keptRequestsDropped))
        if let d = delivery {
            out += counter("encharge_events_delivered_total", "Events the Ingest API accepted.", d.delivered)
            out += counter("encharge_events_retried_total", "Delivery retries.", d.retried)
            out += counter("encharge_events_dead_total", "Events given up on (kept in the spool).", d.dead)
            out +=
                "# HELP encharge_delivery_latency_seconds Ingest request latency.\n"
                + "# TYPE encharge_delivery_latency_seconds summary\n"
            out +=
                "encharge_delivery_latency_seconds{quantile=\"0.5\"} \(d.p50)\n"
                + "encharge_delivery_latency_seconds{quantile=\"0.99\"} \(d.p99)\n"
        }
        if let s = spool {
            out +=
                "# HELP encharge_spool_depth Events waiting in the spool.\n"
                + "# TYPE encharge_spool_depth gauge\nencharge_spool_depth \(s.pending)\n"
            out +=
                "# HELP encharge_spool_dead Dead events kept in the spool.\n"
                + "# TYPE encharge_spool_dead gauge\nencharge_spool_dead \(s.dead)\n"
        }
        if let p = pacing {
            out += gauge(
                "encharge_spool_delivery_rate", "Spooled events delivered per second, as the pacing measures it.",
                p.rate)
            out += gauge(
                "encharge_pace_backlog_seconds",
                "Seconds of delivery the backlog may hold before requests wait (--pace-backlog; 0: off).", p.limit)
            out += counter(
                "encharge_paced_requests_total", "Requests that waited before their commit because of the backlog.",
                p.paced)
            out +=
                "# HELP encharge_pace_wait_seconds_total Seconds requests waited before their commit, in all.\n"
                + "# TYPE encharge_pace_wait_seconds_total counter\nencharge_pace_wait_seconds_total \(p.waited)\n"
        }
        return out
    }

    private func gauge(_ name: String, _ help: String, _ value: Double) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(value)\n"
    }

    private func counter(_ name: String, _ help: String, _ value: Int) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n"
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
