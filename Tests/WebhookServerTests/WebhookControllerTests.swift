import EnchargeSpool
import Foundation
import HTTPTypes
import HummingbirdTesting
import JSONKit
import NIOCore
import TestSupport
import Testing

@testable import WebhookServer

/// What the webhook routes answer and store, in process: the router of `serve` with a real rule
/// pool and a real spool, and a mock Ingest API where a test follows the events to delivery.
@Suite struct WebhookControllerTests {
    @Test func anAcceptedRequestAnswers202AndItsEventsAreDeliveredInOrder() async throws {
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(
                rule: """
                    function on_webhook(req)
                      local b = req.json
                      encharge.identify{ email = b.email, firstName = b.name }
                      encharge.track("Signed up", { email = b.email }, { seq = b.seq, path = req.path, method = req.method })
                      if req.query.reply == "custom" then
                        return { status = 200, headers = { ["x-rule"] = "yes" }, body = { ok = true } }
                      end
                    end
                    """, endpoint: endpoint)
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                let reply = try await client.postJSON("/signup", #"{"email":"ada@example.com","name":"Ada","seq":1}"#)
                #expect(reply.status == .accepted, "\(reply)")
                #expect(reply.text == #"{"accepted":2}"#)
                #expect(reply.headers[TestResponse.requestID]?.isEmpty == false)

                try #require(await eventually("both events were delivered") { ingest.accepted.count >= 2 })
                let events = ingest.accepted.compactMap(\.json)
                #expect(events.count == 2)
                #expect(events[0]["name"] == .string("identify"))
                guard case .object(let user)? = events[0]["user"] else { Issue.record("no user"); return }
                #expect(user["email"] == .string("ada@example.com"))
                #expect(user["firstName"] == .string("Ada"))
                #expect(events[1]["name"] == .string("Signed up"))
                guard case .object(let properties)? = events[1]["properties"] else {
                    Issue.record("no properties"); return
                }
                #expect(properties["seq"] == .integer(1))
                #expect(properties["path"] == .string("/signup"))
                #expect(properties["method"] == .string("POST"))

                // A rule may answer for itself: status, headers and a JSON body.
                let custom = try await client.postJSON("/signup?reply=custom", #"{"email":"bob@example.com","seq":2}"#)
                #expect(custom.status == .ok, "\(custom)")
                #expect(custom.json?["ok"] == .bool(true))
                #expect(custom.headers[HTTPField.Name("x-rule")!] == "yes")
                #expect(custom.headers[.contentType]?.hasPrefix("application/json") == true)
                #expect(custom.headers[TestResponse.requestID]?.isEmpty == false)
                #expect(custom.headers[TestResponse.requestID] != reply.headers[TestResponse.requestID])
            }
            await eventually("seq 2 was delivered") { ingest.accepted.compactMap(\.seq).contains(2) }
            #expect(ingest.accepted.compactMap(\.json).count == 4)
        }
    }

    @Test func badRequestsGetTheirStatusAndTheServerKeepsServing() async throws {
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(
                rule: """
                    routes = {
                      ["POST /a"] = function(req)
                        encharge.track("A", { email = req.json.email }, { seq = req.json.seq })
                      end,
                      ["POST /form"] = function(req)
                        encharge.track("Form", { email = req.form.email }, { seq = tonumber(req.form.seq) })
                      end,
                    }
                    """, endpoint: endpoint
            ) { $0.maxBodyBytes = 1024 }
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            let last = try await server.test { client in
                var seq = 0
                /// A good request right after each bad one: the server still answers 202.
                func good(after what: String) async throws {
                    seq += 1
                    let reply = try await client.postJSON("/a", #"{"email":"ok@example.com","seq":\#(seq)}"#)
                    #expect(reply.status == .accepted, "a good request after \(what): \(reply)")
                }
                /// A JSON body of exactly `size` bytes.
                func padded(_ size: Int) -> [UInt8] {
                    let head = #"{"email":"ok@example.com","seq":1000,"pad":""#
                    return Array((head + String(repeating: "x", count: size - head.utf8.count - 2) + "\"}").utf8)
                }
                let json: HTTPFields = [.contentType: "application/json"]
                try await good(after: "nothing")

                let exact = try await client.send(.post, "/a", headers: json, body: padded(1024))
                #expect(exact.status == .accepted, "a body of exactly --max-body is allowed: \(exact)")
                var declared = json
                declared[.contentLength] = "1025"
                let tooBig = try await client.send(.post, "/a", headers: declared, body: padded(1025))
                #expect(tooBig.status == .contentTooLarge, "\(tooBig)")
                #expect(tooBig.headers[TestResponse.requestID] != nil)
                #expect(tooBig.errorMessage == "the body is larger than 1024 bytes")
                try await good(after: "413 by Content-Length")
                let tooBigStreamed = try await client.send(.post, "/a", headers: json, body: padded(4000))
                #expect(
                    tooBigStreamed.status == .contentTooLarge,
                    "a body without a length past the limit: \(tooBigStreamed)")
                try await good(after: "413 streamed")

                let noRoute = try await client.postJSON("/b", #"{"email":"b@example.com","seq":2000}"#)
                #expect(noRoute.status == .notFound, "\(noRoute)")
                #expect(noRoute.errorMessage == "no route for POST /b")
                let wrongMethod = try await client.send(.put, "/a", headers: json, body: Array(#"{"seq":2001}"#.utf8))
                #expect(wrongMethod.status == .notFound, "routes match the method too: \(wrongMethod)")
                try await good(after: "404")

                let malformed = try await client.postJSON("/a", #"{"email": "m@example.com", "seq": "#)
                #expect(malformed.status == .badRequest, "\(malformed)")
                #expect(malformed.headers[TestResponse.requestID] != nil)
                #expect(malformed.errorMessage.hasPrefix("the body is not valid JSON: "))
                try await good(after: "malformed JSON")

                let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                var notUTF8 = Array("email=f%40example.com&seq=3000&name=".utf8)
                notUTF8 += [0xC3, 0x28, 0xFF]
                let badForm = try await client.send(.post, "/form", headers: form, body: notUTF8)
                #expect(badForm.status == .badRequest, "\(badForm)")
                #expect(badForm.errorMessage == "the body is not valid UTF-8")
                try await good(after: "invalid UTF-8")

                let goodForm = try await client.send(
                    .post, "/form", headers: form, body: Array("email=ok%40example.com&seq=3001".utf8))
                #expect(goodForm.status == .accepted, "\(goodForm)")
                try await good(after: "a form")
                return seq
            }
            await eventually("seq \(last) was delivered") { ingest.accepted.compactMap(\.seq).contains(last) }
            // One person throughout: delivered in the order accepted, and only what was accepted.
            #expect(
                ingest.accepted.compactMap(\.seq) == [1, 1000, 2, 3, 4, 5, 6, 3001, 7],
                "\(ingest.accepted.compactMap(\.seq))")
        }
    }

    @Test func badPercentEscapesInAFormBodyAnswer400InsteadOfGuessing() async throws {
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(
                rule: """
                    function on_webhook(req)
                      encharge.track("Form", { email = req.form.email }, { note = req.form.note, seq = tonumber(req.form.seq) })
                    end
                    """, endpoint: endpoint)
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                func post(_ form: String) async throws -> TestResponse {
                    try await client.send(
                        .post, "/form", headers: [.contentType: "application/x-www-form-urlencoded"],
                        body: Array(form.utf8))
                }
                let cases: [(form: String, message: String)] = [
                    ("email=f%40example.com&note=%FF&seq=2", "the form field at byte"),
                    ("email=f%40example.com&note=%+4&seq=3", "bad percent-escape '%+4'"),
                    ("email=f%40example.com&seq=4&note=50%4", "bad percent-escape '%4'"),
                    ("email=f%40example.com&note=%zz&seq=5", "bad percent-escape '%zz'"),
                ]
                for (form, message) in cases {
                    let reply = try await post(form)
                    #expect(reply.status == .badRequest, "\(form): \(reply)")
                    #expect(reply.errorMessage.contains(message), "\(form): \(reply.errorMessage)")
                }
                #expect(
                    try await post("email=f%40example.com&note=caf%C3%A9+%26+cr%C3%A8me%0D%0A&seq=1").status
                        == .accepted)
            }
            await eventually("seq 1 was delivered") { ingest.accepted.compactMap(\.seq).contains(1) }
            let event = try #require(ingest.accepted.compactMap(\.json).first)
            guard case .object(let properties)? = event["properties"] else { Issue.record("no properties"); return }
            #expect(properties["note"] == .string("café & crème\r\n"))
            #expect(ingest.accepted.compactMap(\.seq) == [1])
        }
    }

    @Test func aRuleAnsweringAnImpossibleStatusIsAServerSideError() async throws {
        let server = try WebhookTestServer(
            rule: """
                function on_webhook(req)
                  encharge.track("Answered", { email = "status@example.com" }, { seq = req.json.seq })
                  local status = tonumber(req.query.status)
                  if req.query.table then return { status = status, body = "custom" } end
                  return status
                end
                """)
        try await server.test { client in
            let fine = try await client.postJSON("/?status=204", #"{"seq":1}"#)
            #expect(fine.status == .noContent, "\(fine)")
            for (index, query) in ["status=1000", "status=0&table=1", "status=-1"].enumerated() {
                let reply = try await client.postJSON("/?" + query, #"{"seq":\#(index + 2)}"#)
                #expect(
                    (500..<600).contains(reply.status.code),
                    "an impossible status from the rule is a server-side error: \(reply)")
            }
            let after = try await client.postJSON("/", #"{"seq":10}"#)
            #expect(after.status == .accepted, "the server keeps serving")
        }
    }

    @Test func ruleAnswersAreStrictAndBadOnesAreKeptRuleErrors() async throws {
        let server = try WebhookTestServer(
            rule: """
                routes = {
                  ["POST /float"] = function(req) return 200.5 end,
                  ["POST /string"] = function(req) return "abc" end,
                  ["POST /text-status"] = function(req) return { status = "201" } end,
                  ["POST /no-content"] = function(req) return { status = 204, body = "x" } end,
                  ["POST /number-body"] = function(req) return { status = 200, body = 5 } end,
                  ["POST /fine"] = function(req) return { status = 204 } end,
                  ["POST /whole-float"] = function(req) return 201.0 end,
                }
                """)
        let bad = [
            ("/float", 2, "status 200.5"), ("/string", 3, "a string"), ("/text-status", 4, "status = a string"),
            ("/no-content", 5, "a body with status 204"), ("/number-body", 6, "body = a number"),
        ]
        try await server.test { client in
            for (path, _, _) in bad {
                let reply = try await client.postJSON(path, "{}")
                #expect(reply.status == .internalServerError, "\(path): \(reply)")
                #expect(reply.text.contains("kept for replay"), "\(path): \(reply)")
            }
            #expect(try await client.postJSON("/fine", "{}").status == .noContent)
            #expect(try await client.postJSON("/whole-float", "{}").status == .created)
        }
        let kept = try await server.keptRequests()
        #expect(kept.count == bad.count)
        for (path, line, what) in bad {
            #expect(
                kept.contains { $0.error.contains("rules.lua:\(line): the rule returned \(what)") },
                "\(path): \(kept.map(\.error))")
        }
    }

    @Test func aFullSpoolIsAnswered503WithRetryAfterAndReportedOnHealthz() async throws {
        let server = try WebhookTestServer(
            rule: """
                function on_webhook(req) encharge.track("Seen", { email = "a@example.com" }) end
                """
        ) { $0.maxSpoolEvents = 3 }
        try await server.test { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            for index in 1...3 {
                #expect(try await client.postJSON("/", "{}").status == .accepted, "request \(index)")
            }
            let refused = try await client.postJSON("/", "{}")
            #expect(refused.status == .serviceUnavailable, "\(refused)")
            #expect(refused.headers[.retryAfter] == "30")
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .serviceUnavailable)
            #expect(health.text.contains("the spool holds 3 undelivered events, the cap is 3"), "\(health)")
            #expect(try await server.spool.stats().pending == 3)
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains("encharge_spool_depth 3"), "\(metrics)")
            #expect(metrics.contains("encharge_overloaded_total 1"), "\(metrics)")
        }
    }
}
