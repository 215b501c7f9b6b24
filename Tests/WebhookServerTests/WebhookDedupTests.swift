import EnchargeSpool
import Foundation
import HTTPTypes
import HummingbirdTesting
import JSONKit
import TestSupport
import Testing

@testable import WebhookServer

/// Repeated deliveries: a delivery id in the headers is answered from the spool without running
/// the rule again, a rule's own `webhook.dedup` key is checked when its events are stored, and a
/// key counts only once its request succeeded.
@Suite struct WebhookDedupTests {
    @Test func aRepeatedDeliveryIdIsAnswered200WithoutRunningTheRuleAgain() async throws {
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            // One Lua state, so its `ran` table counts every run of the rule.
            let server = try WebhookTestServer(
                rule: """
                    ran = {}
                    function on_webhook(req)
                      if req.method == "GET" then return { status = 200, body = ran } end
                      local seq = tostring(req.json.seq)
                      ran[seq] = (ran[seq] or 0) + 1
                      if req.json.fail then error("cannot handle this one") end
                      encharge.track("Delivered", { email = req.json.email }, { seq = req.json.seq })
                    end
                    """, endpoint: endpoint
            ) { $0.workers = 1 }
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                func post(_ seq: Int, _ header: (String, String), fail: Bool = false) async throws -> TestResponse {
                    try await client.postJSON(
                        "/", #"{"email":"dedup@example.com","seq":\#(seq),"fail":\#(fail)}"#,
                        headers: [HTTPField.Name(header.0)!: header.1])
                }
                let first = try await post(1, ("webhook-id", "msg_dedup_1"))
                #expect(first.status == .accepted, "\(first)")
                let repeated = try await post(1, ("webhook-id", "msg_dedup_1"))
                #expect(repeated.status == .ok, "\(repeated)")
                #expect(repeated.json?["duplicate"] == .bool(true))

                let github = try await post(2, ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"))
                #expect(github.status == .accepted, "\(github)")
                let githubAgain = try await post(2, ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"))
                #expect(githubAgain.status == .ok, "\(githubAgain)")

                let other = try await post(3, ("webhook-id", "msg_dedup_3"))
                #expect(other.status == .accepted, "another delivery id is a new request: \(other)")

                // A delivery whose rule failed was not accepted: the provider's retry runs the rule again.
                let failed = try await post(4, ("webhook-id", "msg_dedup_4"), fail: true)
                #expect(failed.status == .internalServerError, "\(failed)")
                let retried = try await post(4, ("webhook-id", "msg_dedup_4"), fail: true)
                #expect(
                    retried.status == .internalServerError,
                    "a retry of a failed delivery is not a duplicate: \(retried)")

                let last = try await post(5, ("webhook-id", "msg_dedup_5"))
                #expect(last.status == .accepted)
                let runs = try await client.execute(uri: "/", method: .get)
                #expect(runs.text == #"{"1":1,"2":1,"3":1,"4":2,"5":1}"#, "runs of the rule per seq: \(runs.text)")
            }
            await eventually("seq 5 was delivered") { ingest.accepted.compactMap(\.seq).contains(5) }
            #expect(ingest.accepted.compactMap(\.seq) == [1, 2, 3, 5])
        }
    }

    @Test func webhookDedupGivesAnyProviderADedupKeyRecordedOnlyOnSuccess() async throws {
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(
                rule: """
                    function on_webhook(req)
                      webhook.dedup(req.json.event_id)
                      if req.json.fail then error("cannot handle this one") end
                      encharge.track("Hooked", { email = "hooked@example.com" }, { seq = req.json.seq })
                      return { status = 200, body = "ok" }
                    end
                    """, endpoint: endpoint)
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                func post(_ id: String, seq: Int, fail: Bool = false) async throws -> TestResponse {
                    try await client.postJSON("/", #"{"event_id":\#(id),"seq":\#(seq),"fail":\#(fail)}"#)
                }
                #expect(try await post(#""ev-1""#, seq: 1).status == .ok)
                let duplicate = try await post(#""ev-1""#, seq: 2)
                #expect(duplicate.status == .ok, "\(duplicate)")
                #expect(duplicate.json?["duplicate"] == .bool(true), "\(duplicate)")
                // An integer key works like its digits; another key is another request.
                #expect(try await post("42", seq: 3).status == .ok)
                #expect(try await post("42", seq: 4).json?["duplicate"] == .bool(true))
                // A key is recorded only when the request succeeded: the sender's retry runs the rule again.
                #expect(try await post(#""ev-5""#, seq: 5, fail: true).status == .internalServerError)
                let retried = try await post(#""ev-5""#, seq: 5)
                #expect(retried.status == .ok && retried.text == "ok", "\(retried)")
                // A key that is not a string or an integer fails the request with a message.
                #expect(try await post("{}", seq: 6).status == .internalServerError)
                #expect(try await post(#""ev-7""#, seq: 7).status == .ok)
            }
            let kept = try await server.keptRequests()
            #expect(kept.count == 2, "the failed ev-5 run and the table key: \(kept.map(\.error))")
            #expect(kept.contains { $0.error.contains("cannot handle this one") })
            #expect(
                kept.contains { $0.error.contains("webhook.dedup: the key must be a string or an integer, got table") },
                "\(kept.map(\.error))")
            await eventually("seq 7 was delivered") { ingest.accepted.compactMap(\.seq).contains(7) }
            #expect(ingest.accepted.compactMap(\.seq) == [1, 3, 5, 7])
        }
    }
}
