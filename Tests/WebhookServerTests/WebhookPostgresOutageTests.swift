import EnchargeSpool
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresSpool
import SystemKit
import TestSupport
import Testing

@testable import WebhookServer

/// While the PostgreSQL spool's server is down, a request is refused promptly with 503 and
/// `Retry-After: 5` (docs/scaling.md), also one whose delivery id the server would check first.
@Suite struct WebhookPostgresOutageTests {
    @Test(.timeLimit(.minutes(1)))
    func aRequestWithADeliveryIDIsAnswered503PromptlyWhilePostgresIsDown() async throws {
        try await PostgresCluster.with { cluster in
            let spool = try await PostgresSpool.open(
                url: cluster.url(database: try cluster.createDatabase()), password: cluster.password)
            let server = try WebhookTestServer(
                rule: #"function on_webhook(req) encharge.track("Delivered", { email = req.json.email }) end"#)
            let router = buildRouter(
                configuration: server.configuration, pool: server.pool, spool: spool, worker: nil,
                metrics: WebhookMetrics(), logger: server.logger)
            cluster.stop()
            try await Application(router: router).test(.router) { client in
                for delivery in ["msg_outage_1", "msg_outage_2"] {
                    let started = SystemClock.monotonicSeconds()
                    let response = try await client.postJSON(
                        "/", #"{"email":"outage@example.com"}"#, headers: [HTTPField.Name("webhook-id")!: delivery])
                    #expect(SystemClock.monotonicSeconds() - started < 3, "answered within a couple of seconds")
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.retryAfter] == "5")
                    #expect(response.errorMessage == "cannot store the events; retry shortly")
                }
            }
            await spool.close()
        }
    }
}
