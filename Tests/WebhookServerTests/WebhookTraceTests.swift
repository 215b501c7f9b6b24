import EnchargeRules
import Foundation
import HTTPTypes
import HummingbirdTesting
import JSONKit
import Synchronization
import SystemKit
import TestSupport
import Testing
import WebhookSignatures

@testable import WebhookServer

/// `serve --trace`: one block per request on the rule's log writer (standard error), with the
/// rule's steps and the answer, and never a secret, a signature or the body.
@Suite struct WebhookTraceTests {
    /// How Lua names `path` in a position: whole up to 59 bytes, else `...` and its last 56 bytes
    /// (LUA_IDSIZE is 60), as a `TemporaryDirectory`'s `rules.lua` is named.
    static func luaName(_ path: String) -> String {
        path.utf8.count <= 59 ? path : "..." + String(decoding: path.utf8.suffix(56), as: UTF8.self)
    }

    /// What `buffer` received since the last call, for one request's block at a time.
    final class BlockReader: Sendable {
        let buffer = OutputBuffer()
        private let seen = Mutex(0)

        func next() -> String {
            let text = Array(buffer.text.utf8)
            return seen.withLock { seen in
                defer { seen = text.count }
                return String(decoding: text[seen...], as: UTF8.self)
            }
        }
    }

    /// A server tracing into `blocks`.
    static func server(
        _ rule: String, blocks: OutputBuffer, _ configure: (inout WebhookServerConfiguration) -> Void = { _ in }
    ) throws -> WebhookTestServer {
        try WebhookTestServer(rule: rule) {
            $0.rule.trace = true
            $0.rule.logWriter = blocks
            configure(&$0)
        }
    }

    static let stripeRule = """
        routes = {
          ["POST /stripe"] = function(req)
            log.info("event", req.json.type)
            encharge.identify{ email = req.json.email }
            encharge.track("Paid invoice", { email = req.json.email }, { amount = req.json.amount })
          end,
          ["POST /fail"] = function(req)
            error("no handler for " .. req.json.type)
          end,
        }
        """

    @Test func eachRequestIsOneBlockWithTheRuleStepsAndTheAnswer() async throws {
        let blocks = BlockReader()
        let server = try Self.server(Self.stripeRule, blocks: blocks.buffer)
        let rules = Self.luaName(server.configuration.rule.rulesPath)
        let body = #"{"type":"invoice.paid","email":"ada@example.com","amount":4200}"#
        let paid = try await server.test { client in try await client.postJSON("/stripe?x=1", body) }
        #expect(paid.status == .accepted)
        let id = try #require(paid.headers[TestResponse.requestID])
        #expect(
            blocks.next() == """
                trace POST /stripe \(id)
                  \(rules):3  info: event invoice.paid
                  \(rules):4  identify {"email":"ada@example.com"}
                  \(rules):5  track "Paid invoice" {"user":{"email":"ada@example.com"},"properties":{"amount":4200}}
                  outcome: 202, 2 events

                """)

        let missing = try await server.test { client in try await client.postJSON("/nowhere", "{}") }
        #expect(missing.status == .notFound)
        let missingID = try #require(missing.headers[TestResponse.requestID])
        #expect(blocks.next() == "trace POST /nowhere \(missingID)\n  outcome: 404 no route for POST /nowhere\n")

        let failed = try await server.test { client in try await client.postJSON("/fail", body) }
        #expect(failed.status == .internalServerError)
        let failedID = try #require(failed.headers[TestResponse.requestID])
        let lines = blocks.next().split(separator: "\n").map(String.init)
        #expect(lines.first == "trace POST /fail \(failedID)")
        #expect(lines.dropFirst().first == "  \(rules):8  error: no handler for invoice.paid")
        #expect(lines.last == "  outcome: 500 the rule failed; the request was kept for replay")
    }

    @Test func duplicatesAndRefusalsBeforeTheRuleSayWhatHappened() async throws {
        let blocks = BlockReader()
        let server = try Self.server(
            """
            function on_webhook(req)
              if req.json.key then webhook.dedup(req.json.key) end
              encharge.identify{ email = req.json.email }
            end
            """, blocks: blocks.buffer
        ) { $0.maxBodyBytes = 64 }
        let rules = Self.luaName(server.configuration.rule.rulesPath)
        let identify = "  \(rules):3  identify {\"email\":\"ada@example.com\"}\n"
        try await server.test { client in
            func post(_ json: String, _ headers: HTTPFields = [:]) async throws -> String {
                let response = try await client.postJSON("/", json, headers: headers)
                return "trace POST / \(response.headers[TestResponse.requestID] ?? "")\n"
            }
            let delivery: HTTPFields = [HTTPField.Name("webhook-id")!: "msg_trace_1"]
            let body = #"{"email":"ada@example.com"}"#
            var header = try await post(body, delivery)
            #expect(blocks.next() == header + identify + "  outcome: 202, 1 event\n")
            header = try await post(body, delivery)
            #expect(blocks.next() == header + "  outcome: 200, duplicate; the rule did not run\n")

            let keyed = #"{"email":"ada@example.com","key":"k1"}"#
            header = try await post(keyed)
            #expect(blocks.next() == header + identify + "  outcome: 202, 1 event\n")
            header = try await post(keyed)
            #expect(blocks.next() == header + identify + "  outcome: 200, duplicate; nothing stored\n")

            header = try await post(#"{"email":"ada@example.com","padding":"\#(String(repeating: "x", count: 64))"}"#)
            let refused = blocks.next()
            #expect(refused.hasPrefix(header + "  outcome: 413 "), "\(refused)")
        }
    }

    /// The guarantee of a development aid run against real senders: a signed request, traced with
    /// `--verify` and a bearer token, by a rule that logs its credentials, shows none of them.
    @Test func aSignedRequestShowsNoSecretNoSignatureAndNoBody() async throws {
        let secret = SigningScheme.stripe.secret("traceSigningSecret7d1e")
        let token = "trace-bearer-token-93c4a"
        let settingSecret = "settings-api-token-5b2f"
        let settingKey = "settings-signing-key-c3d9"
        let apiKey = "header-api-key-0e6a"
        let blocks = OutputBuffer()
        let server = try Self.server(
            """
            function on_webhook(req)
              log.info("signature", req.headers["stripe-signature"])
              log.info("auth", req.headers.authorization)
              log.info("token", encharge.settings.api_token)
              log.info("key", req.headers["x-api-key"], encharge.settings.signing_key)
              encharge.track("Paid", { email = req.json.email }, { seq = req.json.seq })
            end
            """, blocks: blocks
        ) {
            $0.verifyScheme = .stripe
            $0.verifySecret = secret
            $0.authToken = token
            $0.rule.settings["api_token"] = .string(settingSecret)
            $0.rule.settings["signing_key"] = .string(settingKey)
        }
        let rules = Self.luaName(server.configuration.rule.rulesPath)
        let body = Array(#"{"email":"payer@example.com","seq":1,"card":"4242-secret-body"}"#.utf8)
        let now = Int(Date().timeIntervalSince1970)
        let signature = SigningScheme.stripe.sign(body, secret: secret, timestamp: now, id: "")
        let wrongSignature = SigningScheme.stripe.sign(body, secret: "whsec_other", timestamp: now, id: "")
        let (signed, refused) = try await server.test { client in
            func post(_ signature: [(String, String)]) async throws -> TestResponse {
                try await client.send(
                    .post, "/stripe",
                    headers: WebhookSignatureTests.fields(
                        [
                            ("Content-Type", "application/json"), ("Authorization", "Bearer \(token)"),
                            ("X-Api-Key", apiKey),
                        ] + signature),
                    body: body)
            }
            return (try await post(signature), try await post(wrongSignature))
        }
        #expect(signed.status == .accepted, "\(signed)")
        #expect(refused.status == .unauthorized, "\(refused)")
        let signedID = try #require(signed.headers[TestResponse.requestID])
        let refusedID = try #require(refused.headers[TestResponse.requestID])
        #expect(
            blocks.text == """
                trace POST /stripe \(signedID)
                  \(rules):2  info: signature [redacted]
                  \(rules):3  info: auth Bearer [redacted]
                  \(rules):4  info: token [redacted]
                  \(rules):5  info: key [redacted] [redacted]
                  \(rules):6  track "Paid" {"user":{"email":"payer@example.com"},"properties":{"seq":1}}
                  outcome: 202, 1 event
                trace POST /stripe \(refusedID)
                  outcome: 401 signature verification failed: \(refused.errorMessage.dropFirst(31))

                """)
        #expect(refused.errorMessage.hasPrefix("signature verification failed: "))
        let shown = blocks.text
        for value in [secret, token, settingSecret, settingKey, apiKey, "4242-secret-body"]
            + (signature + wrongSignature).map(\.1)
        {
            #expect(!shown.contains(value), "the trace shows \(value)")
        }
    }
}
