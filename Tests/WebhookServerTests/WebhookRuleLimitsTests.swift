import EnchargeRules
import EnchargeSpool
import Foundation
import HTTPTypes
import HummingbirdTesting
import LuaKit
import TestSupport
import Testing

@testable import WebhookServer

/// What a rule's limits do to a request: a request that fails on a limit before emitting is not
/// kept (the same body fails the same way), and the rule's globals live on within a worker.
@Suite struct WebhookRuleLimitsTests {
    @Test func aRequestThatFailsOnALimitBeforeEmittingIsNotKept() async throws {
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(
                rule: """
                    function on_webhook(req)
                      if req.headers["x-limit"] == "req.json" then return #req.json end
                      if req.json.emit_first then encharge.track("Paid", { email = req.json.email }, { seq = 1 }) end
                      if req.json.limit == "memory" then local t = {} for i = 1, 1e9 do t[i] = { i } end end
                      if req.json.limit == "instructions" then while true do end end
                      if req.json.limit == "json" then json.decode("[" .. string.rep("{},", 5e5) .. "{}]") end
                    end
                    """, endpoint: endpoint
            ) {
                $0.rule.limits.memoryBytes = 16 << 20
                $0.rule.limits.seconds = 1
            }
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                for limit in ["memory", "instructions", "json"] {
                    let reply = try await client.postJSON("/", #"{"email":"l@example.com","limit":"\#(limit)"}"#)
                    #expect(reply.status == .internalServerError, "\(limit): \(reply)")
                }
                // req.json itself decodes under the cap: 330,000 empty objects are over 16 MiB as tables.
                var array = Array("[".utf8)
                while array.count < 1_000_000 { array.append(contentsOf: Array("{},".utf8)) }
                array.append(contentsOf: Array("{}]".utf8))
                let decoded = try await client.send(
                    .post, "/", headers: [.contentType: "application/json", HTTPField.Name("X-Limit")!: "req.json"],
                    body: array)
                #expect(decoded.status == .internalServerError, "\(decoded)")
                #expect(server.log.text.contains("req.json: memory limit of 16 MiB exceeded"), "\(server.log.text)")
                #expect(try await server.keptRequests().isEmpty, "\(server.log.text)")
                // Events were emitted before the limit: those requests are kept, their events not sent.
                let emitted = try await client.postJSON(
                    "/", #"{"email":"l@example.com","limit":"memory","emit_first":true}"#)
                #expect(emitted.status == .internalServerError)
            }
            #expect(try await server.keptRequests().count == 1)
            #expect(try await server.spool.stats().pending == 0)
            #expect(ingest.accepted.compactMap(\.json).isEmpty)
        }
    }

    @Test func globalsPersistAcrossRequestsWithinAWorkerAsTheDocsSay() async throws {
        let server = try WebhookTestServer(
            rule: """
                function on_webhook(req)
                  seen = (seen or 0) + 1
                  return { status = 200, body = tostring(seen) }
                end
                """
        ) { $0.workers = 1 }
        try await server.test { client in
            var bodies: [String] = []
            for _ in 1...3 { bodies.append(try await client.postJSON("/", "{}").text) }
            #expect(bodies == ["1", "2", "3"])
        }
        let docs = try String(contentsOfFile: Binary.packageRoot + "/docs/serve.md", encoding: .utf8)
        #expect(docs.contains("**persist across requests within one worker**, and\n**differ between workers**"))
    }
}
