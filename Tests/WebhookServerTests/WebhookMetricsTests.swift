import EnchargeSpool
import Foundation
import HTTPTypes
import HummingbirdTesting
import JSONKit
import TestSupport
import Testing

@testable import WebhookServer

/// `/healthz` and `/metrics`, and the labels requests are counted under.
@Suite struct WebhookMetricsTests {
    /// A rule emitting one `Paid` event per request, with the body's `email` and `seq`.
    static let paidRule = """
        function on_webhook(req)
          encharge.track("Paid", { email = req.json.email }, { seq = req.json.seq })
        end
        """

    @Test func healthzAndMetricsAreServed() async throws {
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(rule: Self.paidRule, endpoint: endpoint)
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                let health = try await client.execute(uri: "/healthz", method: .get)
                #expect(health.status == .ok, "\(health)")
                #expect(health.json?["status"] == .string("ok"))
                #expect(health.headers[TestResponse.requestID] == nil, "status endpoints are not webhook requests")

                #expect(try await client.postJSON("/pay", #"{"email":"m@example.com","seq":1}"#).status == .accepted)
                #expect(try await client.postJSON("/pay", "{").status == .badRequest)
                await eventually("seq 1 was delivered") { ingest.accepted.compactMap(\.seq).contains(1) }
                await eventually("the spool drained and the delivery was counted") {
                    server.spool.cachedStats.pending == 0 && server.worker.stats().delivered == 1
                }
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                #expect(metrics.status == .ok)
                #expect(metrics.headers[.contentType] == "text/plain; version=0.0.4")
                let text = metrics.text
                #expect(text.contains("# TYPE encharge_requests_total counter"))
                // Without a routes table every path shares one label, so clients cannot grow the metric set.
                #expect(text.contains(#"encharge_requests_total{route="on_webhook",status="202"} 1"#), "\(text)")
                #expect(text.contains(#"encharge_requests_total{route="on_webhook",status="400"} 1"#), "\(text)")
                #expect(!text.contains("/pay"), "\(text)")
                #expect(text.contains("# TYPE encharge_spool_depth gauge"))
                #expect(text.contains("encharge_spool_depth 0"))
                #expect(text.contains("encharge_events_delivered_total 1"), "\(text)")
                #expect(text.contains("encharge_events_emitted_total 1"), "\(text)")
            }
        }
    }

    @Test func refusedRequestsShareOneMetricLabel() async throws {
        let server = try WebhookTestServer(
            rule: """
                routes = { ["POST /known"] = function(req) encharge.track("Seen", { email = "a@example.com" }) end }
                """)
        try await server.test { client in
            #expect(
                try await client.postJSON("/known", "{}", headers: [HTTPField.Name("webhook-id")!: "k1"]).status
                    == .accepted)
            for index in 0..<1000 {
                let reply = try await client.postJSON(
                    "/random-\(index)", "{}", headers: [HTTPField.Name("webhook-id")!: "k1"])
                #expect(reply.status == .ok || reply.status == .notFound, "\(reply)")
            }
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            let series = metrics.split(separator: "\n").filter { $0.hasPrefix("encharge_requests_total{") }
            #expect(series.count <= 3, "\(series.count) series: \(series.prefix(5))")
            #expect(!metrics.contains("random-"))
            #expect(metrics.contains(#"encharge_requests_total{route="unmatched",status="200"} 1000"#), "\(series)")
            #expect(metrics.contains(#"encharge_requests_total{route="POST /known",status="202"} 1"#), "\(series)")
            #expect(metrics.contains("encharge_duplicate_requests_total 1000"), "\(metrics)")
        }
    }

    /// The exposition text, byte for byte, for a known set of counts: the series sorted by route
    /// label and status, every counter with its HELP and TYPE lines.
    @Test func theTextIsPrometheusExpositionInAFixedOrder() {
        let metrics = WebhookMetrics()
        metrics.request(route: .route("POST /b"), status: .accepted)
        metrics.request(route: .route("POST /a"), status: .accepted)
        metrics.request(route: .unmatched, status: .notFound)
        metrics.request(route: .route("POST /a"), status: .accepted)
        metrics.request(route: .route("POST /\"q\\"), status: .ok)
        metrics.add(.ruleErrors)
        metrics.add(.eventsEmitted, 3)
        metrics.add(.keptRequestsDropped, 2)
        let text = metrics.text(spool: nil, delivery: nil, watchdogOverruns: 1)
        #expect(
            text == """
                # HELP encharge_requests_total Webhook requests by route and status.
                # TYPE encharge_requests_total counter
                encharge_requests_total{route="POST /\\"q\\\\",status="200"} 1
                encharge_requests_total{route="POST /a",status="202"} 2
                encharge_requests_total{route="POST /b",status="202"} 1
                encharge_requests_total{route="unmatched",status="404"} 1
                # HELP encharge_rule_errors_total Requests whose rule raised an error.
                # TYPE encharge_rule_errors_total counter
                encharge_rule_errors_total 1
                # HELP encharge_events_emitted_total Events emitted by rules and spooled.
                # TYPE encharge_events_emitted_total counter
                encharge_events_emitted_total 3
                # HELP encharge_duplicate_requests_total Requests answered from the dedup window.
                # TYPE encharge_duplicate_requests_total counter
                encharge_duplicate_requests_total 0
                # HELP encharge_overloaded_total Requests answered 503 because every Lua state was busy or the spool was full.
                # TYPE encharge_overloaded_total counter
                encharge_overloaded_total 0
                # HELP encharge_rule_watchdog_total Rule calls stuck in a library call past 2x the time limit; each replaced its worker.
                # TYPE encharge_rule_watchdog_total counter
                encharge_rule_watchdog_total 1
                # HELP encharge_kept_requests_dropped_total Oldest kept failed requests deleted to stay within the cap.
                # TYPE encharge_kept_requests_dropped_total counter
                encharge_kept_requests_dropped_total 2

                """)
    }

    /// The pacing's lines follow the spool's, with the limit, the measured rate and the waits.
    @Test func thePacingFiguresFollowTheSpoolsInTheText() {
        let text = WebhookMetrics().text(
            spool: nil, delivery: nil, pacing: (limit: 1, rate: 18_500.5, paced: 42, waited: 0.25))
        #expect(
            text.hasSuffix(
                """
                # HELP encharge_spool_delivery_rate Spooled events delivered per second, as the pacing measures it.
                # TYPE encharge_spool_delivery_rate gauge
                encharge_spool_delivery_rate 18500.5
                # HELP encharge_pace_backlog_seconds Seconds of delivery the backlog may hold before requests wait (--pace-backlog; 0: off).
                # TYPE encharge_pace_backlog_seconds gauge
                encharge_pace_backlog_seconds 1.0
                # HELP encharge_paced_requests_total Requests that waited before their commit because of the backlog.
                # TYPE encharge_paced_requests_total counter
                encharge_paced_requests_total 42
                # HELP encharge_pace_wait_seconds_total Seconds requests waited before their commit, in all.
                # TYPE encharge_pace_wait_seconds_total counter
                encharge_pace_wait_seconds_total 0.25

                """), "\(text)")
    }

    /// `--pace-backlog` end to end: delivery to a slow Ingest API trails requests posted as fast as
    /// the router answers them, so once the backlog passes the limit requests wait before their
    /// commit (and every one is still accepted); once the spool drained, a request does not wait.
    @Test func aGrowingBacklogMakesRequestsWaitAndADrainedOneDoesNot() async throws {
        try await ScriptedIngestServer.with(
            configuration: WebhookTestServer.ingest, script: { _, _ in IngestReply.ok.delayed(by: .milliseconds(20)) }
        ) { ingest, endpoint in
            let server = try WebhookTestServer(rule: Self.paidRule, endpoint: endpoint) { $0.paceBacklog = 0.05 }
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                func figure(_ name: String) async throws -> Double {
                    let text = try await client.execute(uri: "/metrics", method: .get).text
                    let line = text.split(separator: "\n").first { $0.hasPrefix("\(name) ") }
                    return try #require(line.flatMap { Double($0.split(separator: " ")[1]) }, "\(name) in \(text)")
                }
                #expect(try await figure("encharge_pace_backlog_seconds") == 0.05)
                var sent = 0
                // 4 deliveries in flight at 20 ms each deliver at most 200 events/s; 16 requests
                // at a time outrun that within a few rounds.
                let paced = try await eventually("requests waited once the backlog passed 0.05 s of delivery") {
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        for seq in sent..<sent + 16 {
                            group.addTask {
                                try await client.postJSON("/pay", #"{"email":"p\#(seq)@example.com","seq":\#(seq)}"#)
                                    .status.code
                            }
                        }
                        for try await status in group { #expect(status == 202) }
                    }
                    sent += 16
                    return try await figure("encharge_paced_requests_total") > 0
                }
                try #require(paced)
                #expect(try await figure("encharge_pace_wait_seconds_total") > 0)
                #expect(try await figure("encharge_spool_delivery_rate") > 0)
                await eventually("every accepted event was delivered") {
                    server.spool.cachedStats.pending == 0 && ingest.accepted.count == sent
                }
                let before = try await figure("encharge_paced_requests_total")
                #expect(try await client.postJSON("/pay", #"{"email":"late@example.com","seq":0}"#).status == .accepted)
                #expect(try await figure("encharge_paced_requests_total") == before)
            }
        }
    }
}
